/**
 * The shell: skip link, header with the main navigation, theme choice and user menu, and the
 * page for the current location. Nobody logged in: the login page (or first-admin setup).
 */
import { lazy, type ReactNode, Suspense, useEffect, useId, useRef, useState } from 'react';
import { useAuth, useUser } from './auth';
import { ErrorMessage, Loading } from './components/common';
import { AssetPage } from './pages/asset';
import { FindingsPage } from './pages/findings';
import { InventoryPage } from './pages/inventory';
import { LoginPage } from './pages/login';
import { ScansPage } from './pages/scans';
import { SetupPage } from './pages/setup';
import { Link, navigate, useLocation } from './router';
import { setThemeChoice, type ThemeChoice, useThemeChoice } from './theme';

/** The overview carries ECharts: loaded when first shown, so the login page stays small. */
const OverviewPage = lazy(() => import('./pages/overview').then((m) => ({ default: m.OverviewPage })));

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/inventory', label: 'Inventory' },
  { to: '/findings', label: 'Findings' },
  { to: '/scans', label: 'Scans' },
];

function ThemeSelect() {
  const choice = useThemeChoice();
  const id = useId();
  return (
    <div className="theme-select">
      <label htmlFor={id}>Theme</label>
      <select id={id} value={choice} onChange={(e) => setThemeChoice(e.target.value as ThemeChoice)}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </div>
  );
}

function UserMenu() {
  const user = useUser();
  const { logout } = useAuth();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const panelId = useId();
  const wrap = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const outside = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false);
    };
    const onEscape = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      if (wrap.current?.contains(document.activeElement)) button.current?.focus();
    };
    document.addEventListener('mousedown', outside);
    document.addEventListener('keydown', onEscape);
    return () => {
      document.removeEventListener('mousedown', outside);
      document.removeEventListener('keydown', onEscape);
    };
  }, [open]);

  return (
    <div className="user-menu" ref={wrap}>
      <button ref={button} type="button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen((o) => !o)}>
        <span className="visually-hidden">User menu: </span>
        {user.username} <span className="role">({user.role})</span>
      </button>
      <div id={panelId} className="user-panel" hidden={!open}>
        <dl>
          <dt>Role</dt>
          <dd>{user.role}</dd>
          <dt>Intrusive scans</dt>
          <dd>{user.canIntrusive ? 'allowed' : 'not allowed'}</dd>
          <dt>Organisations</dt>
          <dd>{user.orgs === null ? 'all' : user.orgs.join(', ') || 'none'}</dd>
        </dl>
        <button
          type="button"
          onClick={() => {
            setError(null);
            logout().catch(setError);
          }}
        >
          Log out
        </button>
        <ErrorMessage error={error} title="Logout failed" />
      </div>
    </div>
  );
}

function routeOf(path: string): { page: string; ip?: string } {
  if (path === '/' || path === '') return { page: 'overview' };
  if (path === '/inventory') return { page: 'inventory' };
  if (path === '/findings') return { page: 'findings' };
  if (path === '/scans') return { page: 'scans' };
  if (path === '/login') return { page: 'login' };
  if (path === '/setup') return { page: 'setup' };
  const m = /^\/assets\/([^/]+)$/.exec(path);
  if (m) {
    try {
      return { page: 'asset', ip: decodeURIComponent(m[1]!) };
    } catch {
      return { page: 'not-found' };
    }
  }
  return { page: 'not-found' };
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no page at this address. <Link to="/">Go to the overview</Link>.
      </p>
    </>
  );
}

export function App() {
  const { user, startError, retry } = useAuth();
  const { path } = useLocation();
  const route = routeOf(path);

  useEffect(() => {
    if (user && (route.page === 'login' || route.page === 'setup')) navigate('/', { replace: true });
  }, [user, route.page]);

  if (user === undefined) {
    return (
      <main id="main" className="centered">
        {startError ? (
          <>
            <ErrorMessage error={startError} title="The dashboard could not start" />
            <button type="button" onClick={retry}>
              Try again
            </button>
          </>
        ) : (
          <Loading what="Starting" />
        )}
      </main>
    );
  }
  if (user === null) {
    return (
      <>
        <header className="topbar minimal">
          <span className="brand">medsurface</span>
          <ThemeSelect />
        </header>
        <main id="main" className="centered">
          {route.page === 'setup' ? <SetupPage /> : <LoginPage />}
        </main>
      </>
    );
  }

  let page: ReactNode;
  switch (route.page) {
    case 'overview':
      page = <OverviewPage />;
      break;
    case 'inventory':
      page = <InventoryPage />;
      break;
    case 'findings':
      page = <FindingsPage />;
      break;
    case 'scans':
      page = <ScansPage />;
      break;
    case 'asset':
      page = <AssetPage key={route.ip} ip={route.ip!} />;
      break;
    case 'login':
    case 'setup':
      page = <Loading />;
      break;
    default:
      page = <NotFound />;
  }

  const current = route.page === 'asset' ? '/inventory' : path;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          medsurface
        </Link>
        <nav aria-label="Main">
          <ul className="nav-list">
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} className="nav-link" aria-current={current === n.to ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <ThemeSelect />
          <UserMenu />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>{page}</Suspense>
      </main>
      <footer className="footer">
        <p>The inventory is a list of vulnerable systems: treat what you see here as confidential.</p>
      </footer>
    </>
  );
}
