/**
 * Who is logged in. `/auth/me` on start (401 = nobody), `/auth/login` and `/auth/logout`;
 * the CSRF token of the session goes to api.ts for every write. The role decides which actions
 * a page shows; the server enforces the same rules on every route anyway.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, get, post, setCsrfToken, setUnauthorizedHandler } from './api';
import { ROLES, type MeResponse, type Role, type User } from './types';

interface AuthState {
  /** undefined while /auth/me is pending, null when nobody is logged in. */
  user: User | null | undefined;
  /** Why the session ended (shown on the login page). */
  notice: string | null;
  /** The first /auth/me failed for another reason than 401. */
  startError: unknown;
  login(username: string, password: string): Promise<void>;
  /** Takes a session the server opened otherwise (first-admin setup answers one). */
  acceptSession(me: MeResponse): void;
  logout(): Promise<void>;
  retry(): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [startError, setStartError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  const accept = useCallback((me: MeResponse) => {
    setCsrfToken(me.csrfToken);
    setUser(me.user);
    setNotice(null);
  }, []);

  useEffect(() => {
    void attempt;
    const ctl = new AbortController();
    get<MeResponse>('/auth/me', { signal: ctl.signal, quiet401: true })
      .then((me) => {
        setStartError(null);
        accept(me);
      })
      .catch((err: unknown) => {
        if (ctl.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) {
          setStartError(null);
          setUser(null);
        } else setStartError(err);
      });
    return () => ctl.abort();
  }, [accept, attempt]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setUser((u) => {
        if (u) setNotice('Your session ended. Log in again.');
        return null;
      });
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const login = useCallback(
    async (username: string, password: string) => {
      const me = await post<MeResponse>('/auth/login', { username, password }, { quiet401: true });
      accept(me);
    },
    [accept],
  );

  const logout = useCallback(async () => {
    try {
      await post('/auth/logout', {});
    } finally {
      setCsrfToken(null);
      setUser(null);
      setNotice('You are logged out.');
    }
  }, []);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  const value = useMemo<AuthState>(
    () => ({ user, notice, startError, login, logout, retry, acceptSession: accept }),
    [user, notice, startError, login, logout, retry, accept],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}

/** The user's role is at least `role` (viewer < analyst < admin). */
export function hasRole(user: User | null | undefined, role: Role): boolean {
  if (!user) return false;
  return ROLES.indexOf(user.role) >= ROLES.indexOf(role);
}

/** The logged-in user (pages behind the login only). */
export function useUser(): User {
  const { user } = useAuth();
  if (!user) throw new Error('useUser without a logged-in user');
  return user;
}
