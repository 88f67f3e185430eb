import { type FormEvent, useState } from 'react';
import { useAuth } from '../auth';
import { ErrorMessage } from '../components/common';
import { usePageTitle } from '../hooks';

export function LoginPage() {
  const { login, notice } = useAuth();
  const h1 = usePageTitle('Log in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(err);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card auth-card" aria-labelledby="login-title">
      <h1 id="login-title" ref={h1} tabIndex={-1}>
        Log in to medsurface
      </h1>
      {notice ? (
        <p className="message info" role="status">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} className="stack">
        <div className="field">
          <label htmlFor="login-username">User name</label>
          <input id="login-username" name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <ErrorMessage error={error} title="Login failed" />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </section>
  );
}
