import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useApi, useSession } from '../session';
import { Banner, ErrorBanner } from '../ui/feedback';
import { Field, problemsByField } from '../ui/field';

const POLICY = 'At least 12 characters, not containing your user name, and not a common password (also with digits or symbols around it).';

/** The signed-in user's account: their password. */
export function AccountScreen() {
  const { me } = useSession();
  return (
    <section aria-labelledby="acct-title">
      <h1 id="acct-title">Your account</h1>
      <p className="help">Signed in as {me?.username}.</p>
      <ChangePasswordForm forced={false} />
    </section>
  );
}

/**
 * Change your own password (the current one is required). Your other sessions end; this one stays. `forced`: head
 * office reset the password, and until a new one is chosen this is all the console shows.
 */
export function ChangePasswordForm({ forced }: { forced: boolean }) {
  const api = useApi();
  const { reloadMe } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState(false);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};
  const mismatch = repeat !== '' && repeat !== next;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (mismatch) return;
    setError(undefined);
    setDone(false);
    try {
      await api.post('/auth/password', { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setRepeat('');
      setDone(true);
      if (forced) reloadMe();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Change password" noValidate>
      <h2>{forced ? 'Choose a new password' : 'Change password'}</h2>
      {forced && <Banner kind="warning">Head office reset your password. Choose your own to continue.</Banner>}
      {done && <Banner kind="ok">Password changed. Your other sessions have been signed out.</Banner>}
      <Field label={forced ? 'Password you were given' : 'Current password'} {...(problems['currentPassword'] !== undefined ? { error: problems['currentPassword'] } : {})}>
        {(p) => <input {...p} type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />}
      </Field>
      <Field label="New password" help={POLICY} {...(problems['newPassword'] !== undefined ? { error: problems['newPassword'] } : {})}>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />}
      </Field>
      <Field label="New password again" {...(mismatch ? { error: 'does not match the new password' } : {})}>
        {(p) => <input {...p} type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} />}
      </Field>
      {error !== undefined && !(error instanceof ApiError && error.problems.length > 0) && <ErrorBanner error={error} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={current === '' || next === '' || repeat !== next}>
          Change password
        </button>
      </div>
    </form>
  );
}
