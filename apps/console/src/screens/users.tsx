import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { Grant, Role, UserRecord } from '../api/types';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { DataTable } from '../ui/data-table';
import { Banner, ErrorBanner, LoadState } from '../ui/feedback';
import { problemsByField } from '../ui/field';
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
      <LoadState loaded={users} what="users">
        {(list) => (
          <DataTable
            label="Users"
            columns={[
              { header: 'User', rowHeader: true, cell: (u) => `${u.username}${u.disabled ? ' (disabled)' : ''}` },
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
            <small className="help">At least 12 characters.</small>
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
