/**
 * First-admin setup: `medsurface serve` prints `/setup#token=...` while the user table is
 * empty. The token is read from the fragment (never sent in a request line or a Referer), then
 * the fragment is removed from the address bar.
 */
import { type FormEvent, useState } from 'react';
import { post } from '../api';
import { useAuth } from '../auth';
import { ErrorMessage } from '../components/common';
import { usePageTitle } from '../hooks';
import type { MeResponse } from '../types';

function tokenFromFragment(): string {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  return params.get('token') ?? '';
}

/** Passwords shorter than this are refused here already (the server has the final word). */
const MIN_PASSWORD = 12;

export function SetupPage() {
  const { acceptSession } = useAuth();
  const h1 = usePageTitle('Set up medsurface');
  const [token, setToken] = useState(() => {
    const t = tokenFromFragment();
    if (t) window.history.replaceState(null, '', window.location.pathname);
    return t;
  });
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (password.length < MIN_PASSWORD) {
      setError(new Error(`The password needs at least ${MIN_PASSWORD} characters.`));
      return;
    }
    if (password !== confirm) {
      setError(new Error('The two passwords differ.'));
      return;
    }
    setBusy(true);
    try {
      // The server answers the new admin's session, as a login does.
      acceptSession(await post<MeResponse>('/auth/setup', { token, username, password }, { quiet401: true }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card auth-card" aria-labelledby="setup-title">
      <h1 id="setup-title" ref={h1} tabIndex={-1}>
        Create the first administrator
      </h1>
      <p>
        This page works once, with the setup link <code>medsurface serve</code> printed. There is no default password: choose one
        now.
      </p>
      <form onSubmit={submit} className="stack">
        <div className="field">
          <label htmlFor="setup-token">Setup token</label>
          <input id="setup-token" autoComplete="off" required value={token} onChange={(e) => setToken(e.target.value)} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor="setup-username">User name</label>
          <input id="setup-username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="setup-password">Password</label>
          <input
            id="setup-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_PASSWORD}
            aria-describedby="setup-password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <p id="setup-password-hint" className="hint">
            At least {MIN_PASSWORD} characters.
          </p>
        </div>
        <div className="field">
          <label htmlFor="setup-confirm">Password again</label>
          <input id="setup-confirm" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </div>
        <ErrorMessage error={error} title="Setup failed" />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create administrator'}
        </button>
      </form>
    </section>
  );
}
