import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { Grant, Role, SessionRecord, UserRecord } from '../api/types';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { DataTable } from '../ui/data-table';
import { Banner, ErrorBanner, LoadState } from '../ui/feedback';
import { Field, problemsByField } from '../ui/field';
import { useLoad } from '../ui/use-load';
import { NotFound } from './not-found';

const ROLES: { value: Role; label: string; help: string }[] = [
  { value: 'head-office-admin', label: 'head-office admin', help: 'everything, every site' },
  { value: 'site-admin', label: 'site admin', help: 'reads and changes one site' },
  { value: 'viewer', label: 'viewer', help: 'reads one site' },
];

/** Users and their grants (role × site). Head office only, like the API. */
export function UsersScreen() {
  const { headOffice } = useSession();
  if (!headOffice) return <NotFound what="Users are managed by head office" />;
  return <Users />;
}

function Users() {
  const api = useApi();
  const { me } = useSession();
  const [users, reload] = useLoad(async () => (await api.get<{ items: UserRecord[] }>('/users')).items, [api]);
  const [editing, setEditing] = useState<UserRecord | 'new' | undefined>(undefined);
  const [access, setAccess] = useState<UserRecord | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const remove = async (u: UserRecord): Promise<void> => {
    if (!window.confirm(`Delete user ${u.username}?`)) return;
    try {
      await api.delete(`/users/${encodeURIComponent(u.id)}`);
      setMessage(`Deleted ${u.username}.`);
      reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="us-title">
      <h1 id="us-title">Users and grants</h1>
      <p className="help">A grant is a role at a site. A branch administrator gets “site admin” at their office: they then see and change only that site.</p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {error !== undefined && <ErrorBanner error={error} />}
      {editing === undefined && (
        <div className="actions">
          <button type="button" className="primary" onClick={() => { setMessage(undefined); setEditing('new'); }}>Add a user</button>
        </div>
      )}
      {editing !== undefined && (
        <UserForm
          key={editing === 'new' ? 'new' : editing.id}
          user={editing === 'new' ? undefined : editing}
          onDone={(m) => { setEditing(undefined); setMessage(m); reload(); }}
          onCancel={() => setEditing(undefined)}
        />
      )}
      {access !== undefined && (
        <UserAccess
          key={access.id}
          user={access}
          onDone={(m) => { setAccess(undefined); setMessage(m); reload(); }}
          onCancel={() => setAccess(undefined)}
        />
      )}
      <LoadState loaded={users} what="users">
        {(list) => (
          <DataTable
            label="Users"
            columns={[
              { header: 'User', rowHeader: true, cell: (u) => `${u.username}${u.disabled ? ' (disabled)' : ''}${u.mustChangePassword === true ? ' (must choose a new password)' : ''}` },
              {
                header: 'Grants',
                cell: (u) =>
                  u.grants.length === 0 ? <span className="muted">none (cannot see anything)</span> : u.grants.map((g) => `${g.role}${g.siteId !== null ? ` @ ${g.siteId}` : ''}`).join(', '),
              },
              {
                header: 'Actions',
                hideHeader: true,
                className: 'row-actions',
                cell: (u) => (
                  <>
                    <button type="button" onClick={() => { setMessage(undefined); setEditing(u); }} aria-label={`Edit grants of ${u.username}`}>Grants</button>
                    <button type="button" onClick={() => { setMessage(undefined); setAccess(u); }} aria-label={`Password and sessions of ${u.username}`}>Password and sessions</button>
                    {u.id !== me?.userId && <button type="button" className="danger" onClick={() => void remove(u)} aria-label={`Delete user ${u.username}`}>Delete</button>}
                  </>
                ),
              },
            ]}
            rows={list}
            rowKey={(u) => u.id}
          />
        )}
      </LoadState>
    </section>
  );
}

function UserForm({ user, onDone, onCancel }: { user: UserRecord | undefined; onDone: (m: string) => void; onCancel: () => void }) {
  const api = useApi();
  const { sites } = useSites();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [grants, setGrants] = useState<Grant[]>(user?.grants.map((g) => ({ ...g })) ?? [{ role: 'site-admin', siteId: sites[0]?.id ?? null }]);
  const [error, setError] = useState<unknown>(undefined);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};

  const setGrant = (i: number, patch: Partial<Grant>): void =>
    setGrants((old) => old.map((g, n) => {
      if (n !== i) return g;
      const next = { ...g, ...patch };
      // Head office has no site; every other role names one.
      return next.role === 'head-office-admin' ? { role: next.role, siteId: null } : { role: next.role, siteId: next.siteId ?? sites[0]?.id ?? null };
    }));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      if (user === undefined) await api.post('/users', { username, password, grants });
      else await api.put(`/users/${encodeURIComponent(user.id)}/grants`, { grants });
      onDone(user === undefined ? `Created ${username}.` : `Saved the grants of ${user.username}.`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label={user === undefined ? 'New user' : `Grants of ${user.username}`} noValidate>
      <h3>{user === undefined ? 'New user' : `Grants of ${user.username}`}</h3>
      {user === undefined && (
        <div className="form-grid">
          <div className={`field${problems['username'] !== undefined ? ' field-invalid' : ''}`}>
            <label htmlFor="nu-name">User name</label>
            <input id="nu-name" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />
            {problems['username'] !== undefined && <small className="field-error">{problems['username']}</small>}
          </div>
          <div className={`field${problems['password'] !== undefined ? ' field-invalid' : ''}`}>
            <label htmlFor="nu-pass">Password</label>
            <input id="nu-pass" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
            <small className="help">At least 12 characters, not containing the user name, not a common password.</small>
            {problems['password'] !== undefined && <small className="field-error">{problems['password']}</small>}
          </div>
        </div>
      )}
      <fieldset>
        <legend>Grants</legend>
        {grants.map((g, i) => (
          <div key={i} className="inline grant">
            <label htmlFor={`grant-role-${i}`}>Role</label>
            <select id={`grant-role-${i}`} value={g.role} onChange={(e) => setGrant(i, { role: e.target.value as Role })}>
              {ROLES.map((r) => <option key={r.value} value={r.value}>{r.label} — {r.help}</option>)}
            </select>
            {g.role !== 'head-office-admin' && (
              <>
                <label htmlFor={`grant-site-${i}`}>at</label>
                <select id={`grant-site-${i}`} value={g.siteId ?? ''} onChange={(e) => setGrant(i, { siteId: e.target.value })}>
                  {sites.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
                </select>
              </>
            )}
            <button type="button" className="danger" onClick={() => setGrants((old) => old.filter((_, n) => n !== i))} aria-label={`Remove grant ${i + 1}`}>Remove</button>
          </div>
        ))}
        <button type="button" onClick={() => setGrants((old) => [...old, { role: 'viewer', siteId: sites[0]?.id ?? null }])}>Add a grant</button>
      </fieldset>
      {error !== undefined && <ErrorBanner error={error} />}
      <div className="actions">
        <button type="submit" className="primary">{user === undefined ? 'Create user' : 'Save grants'}</button>
        <button type="button" className="link" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

/**
 * Head office: reset a user's password (they must choose their own at next sign-in; their sessions end now) and
 * see or end their sessions.
 */
function UserAccess({ user, onDone, onCancel }: { user: UserRecord; onDone: (m: string) => void; onCancel: () => void }) {
  const api = useApi();
  const [sessions, reload] = useLoad(async () => (await api.get<{ items: SessionRecord[] }>(`/users/${encodeURIComponent(user.id)}/sessions`)).items, [api, user.id]);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};

  const reset = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.post(`/users/${encodeURIComponent(user.id)}/password`, { newPassword: password });
      onDone(`Reset the password of ${user.username}: they choose their own at next sign-in. Their sessions have ended.`);
    } catch (err) {
      setError(err);
    }
  };

  const endSessions = async (): Promise<void> => {
    if (!window.confirm(`Sign ${user.username} out everywhere?`)) return;
    setError(undefined);
    try {
      const r = await api.delete<{ revoked: number }>(`/users/${encodeURIComponent(user.id)}/sessions`);
      onDone(`Ended ${r.revoked} session${r.revoked === 1 ? '' : 's'} of ${user.username}.`);
    } catch (err) {
      setError(err);
      reload();
    }
  };

  return (
    <div className="card form" role="region" aria-label={`Password and sessions of ${user.username}`}>
      <h3>Password and sessions of {user.username}</h3>
      <form onSubmit={(e) => void reset(e)} aria-label={`Reset the password of ${user.username}`} noValidate>
        <Field
          label="New password"
          help="Tell it to the user by another channel; they must replace it at next sign-in."
          {...(problems['newPassword'] !== undefined ? { error: problems['newPassword'] } : {})}
        >
          {(p) => <input {...p} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        <div className="actions">
          <button type="submit" className="primary" disabled={password === ''}>Reset password</button>
        </div>
      </form>
      <h4>Signed in</h4>
      <LoadState loaded={sessions} what="sessions">
        {(list) => (
          <>
            <DataTable
              label={`Sessions of ${user.username}`}
              columns={[
                { header: 'From', rowHeader: true, cell: (s) => s.source },
                { header: 'Since', cell: (s) => new Date(s.createdAt).toLocaleString() },
                { header: 'Last use', cell: (s) => new Date(s.lastSeenAt).toLocaleString() },
                { header: 'Ends at the latest', cell: (s) => new Date(s.expiresAt).toLocaleString() },
              ]}
              rows={list}
              rowKey={(s) => s.id}
              empty="Not signed in anywhere."
            />
            {list.length > 0 && (
              <div className="actions">
                <button type="button" className="danger" onClick={() => void endSessions()}>End all sessions</button>
              </div>
            )}
          </>
        )}
      </LoadState>
      {error !== undefined && !(error instanceof ApiError && problems['newPassword'] !== undefined) && <ErrorBanner error={error} />}
      <div className="actions">
        <button type="button" className="link" onClick={onCancel}>Close</button>
      </div>
    </div>
  );
}
