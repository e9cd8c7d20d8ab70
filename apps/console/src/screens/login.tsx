import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { navigate } from '../router';
import { useSession } from '../session';
import { Banner } from '../ui/feedback';

export function LoginScreen() {
  const { login, endedReason } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(username, password);
      const next = new URLSearchParams(window.location.search).get('next');
      navigate(next !== null && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/', { replace: true });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'Wrong user name or password.'
          : err instanceof ApiError && err.status === 429
            ? `Too many attempts. Try again in ${err.retryAfterSec ?? 'a few'} seconds.`
            : err instanceof Error
              ? err.message
              : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to fedpbx</h1>
        <p className="muted">One phone system across all your offices.</p>
        {endedReason !== undefined && <Banner kind="info">{endedReason}</Banner>}
        {error !== undefined && <Banner kind="error">{error}</Banner>}
        <div className="field">
          <label htmlFor="username">User name</label>
          <input id="username" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input id="password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          <small className="help">The first administrator is the one set in FEDPBX_BOOTSTRAP_ADMIN_USER / _PASSWORD when the controller first started.</small>
        </div>
        <button type="submit" className="primary" disabled={busy || username === '' || password === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
