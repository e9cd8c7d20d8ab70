import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { ApiTokenRecord, Grant } from '../api/types';
import { useApi, useSession } from '../session';
import { useSites } from '../sites';
import { Banner, ErrorBanner, LoadState } from '../ui/feedback';
import { CopyBox } from '../ui/copy-box';
import { DataTable } from '../ui/data-table';
import { Field, problemsByField } from '../ui/field';
import { useLoad } from '../ui/use-load';

/** How a token's rights read in the list. */
function scopeText(t: ApiTokenRecord): string {
  const where = t.grants === undefined ? 'all of its user\'s rights' : t.grants.map((g) => (g.siteId === null ? 'head office' : `${g.role === 'site-admin' ? 'site admin' : 'viewer'} of ${g.siteId}`)).join(', ');
  return t.readOnly ? `read-only · ${where}` : where;
}

/**
 * The signed-in user's API tokens, for integrations (scripts, provisioning, monitoring). A token acts with its
 * user's rights, narrowed to reading and/or one site if asked, until it expires or is revoked; it is shown once
 * when created. Head office also sees and revokes every user's tokens.
 */
export function ApiTokensScreen() {
  const api = useApi();
  const { me, headOffice, canWrite } = useSession();
  const { sites } = useSites();
  const [everyone, setEveryone] = useState(false);
  const [tokens, reload] = useLoad(async () => (await api.get<{ items: ApiTokenRecord[] }>('/api-tokens', { all: everyone ? 'true' : undefined })).items, [api, everyone]);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [readOnly, setReadOnly] = useState(false);
  const [site, setSite] = useState('');
  const [created, setCreated] = useState<(ApiTokenRecord & { token: string }) | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setMessage(undefined);
    try {
      const grants: Grant[] | undefined = site === '' ? undefined : [{ role: canWrite(site) && !readOnly ? 'site-admin' : 'viewer', siteId: site }];
      setCreated(
        await api.post<ApiTokenRecord & { token: string }>('/api-tokens', { name: name.trim(), expiresInDays: Number(days), readOnly, ...(grants !== undefined ? { grants } : {}) }),
      );
      setName('');
      reload();
    } catch (err) {
      setError(err);
    }
  };

  const revoke = async (t: ApiTokenRecord): Promise<void> => {
    if (!window.confirm(`Revoke the token “${t.name}”? Integrations using it stop working at once.`)) return;
    setError(undefined);
    try {
      await api.delete(`/api-tokens/${encodeURIComponent(t.id)}`);
      if (created?.id === t.id) setCreated(undefined);
      setMessage(`Revoked “${t.name}”.`);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="tok-title">
      <h1 id="tok-title">API tokens</h1>
      <p className="help">
        For scripts and integrations using the REST API (<a href="/api/openapi.json">its OpenAPI description</a>): send <code>Authorization: Bearer &lt;token&gt;</code>.
        A token acts as you ({me?.username}) with the rights you give it (never more than yours, and less when yours are reduced), until it expires or is revoked.
      </p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {created !== undefined && (
        <div data-testid="api-token-created">
          <Banner kind="warning" title={`Token “${created.name}” created: copy it now, it is shown only once`} />
          <CopyBox label="API token" value={created.token} />
        </div>
      )}
      <form className="card form inline-form" onSubmit={(e) => void create(e)} aria-label="New API token" noValidate>
        <Field label="Token name" help="What uses it, e.g. “provisioning script”." {...(problems['name'] !== undefined ? { error: problems['name'] } : {})}>
          {(p) => <input {...p} value={name} maxLength={80} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Expires in (days)" {...(problems['expiresInDays'] !== undefined ? { error: problems['expiresInDays'] } : {})}>
          {(p) => <input {...p} type="number" min={1} value={days} onChange={(e) => setDays(e.target.value)} />}
        </Field>
        <Field label="Limited to" help="A token for one site cannot touch the others." {...(problems['grants'] !== undefined ? { error: problems['grants'] } : {})}>
          {(p) => (
            <select {...p} value={site} onChange={(e) => setSite(e.target.value)}>
              <option value="">all my sites</option>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="field">
          <label>
            <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} /> Read-only
          </label>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Create token
          </button>
        </div>
      </form>
      {error !== undefined && !(error instanceof ApiError && error.problems.length > 0 && problems['name'] !== undefined) && <ErrorBanner error={error} />}
      {headOffice && (
        <label className="inline">
          <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.target.checked)} /> Show every user's tokens
        </label>
      )}
      <LoadState loaded={tokens} what="API tokens">
        {(list) => (
          <DataTable
            label="API tokens"
            columns={[
              { header: 'Name', rowHeader: true, cell: (t) => t.name },
              ...(everyone ? [{ header: 'User', cell: (t: ApiTokenRecord) => t.username }] : []),
              { header: 'Rights', cell: (t) => scopeText(t) },
              { header: 'Created', cell: (t) => new Date(t.createdAt).toLocaleString() },
              { header: 'Expires', cell: (t) => new Date(t.expiresAt).toLocaleString() },
              { header: 'Last used', cell: (t) => (t.lastUsedAt === undefined ? <span className="muted">never</span> : new Date(t.lastUsedAt).toLocaleString()) },
              {
                header: 'State',
                cell: (t) =>
                  t.state === 'active' ? (
                    <span className="pill pill-ok">active</span>
                  ) : t.state === 'expired' ? (
                    <span className="pill pill-unknown">expired</span>
                  ) : (
                    <span className="pill pill-unknown">
                      revoked {new Date(t.revokedAt ?? t.createdAt).toLocaleString()}
                      {t.revokedBy !== undefined ? ` by ${t.revokedBy}` : ''}
                    </span>
                  ),
              },
              {
                header: 'Actions',
                hideHeader: true,
                cell: (t) =>
                  t.state === 'active' && (
                    <button type="button" className="danger" onClick={() => void revoke(t)} aria-label={`Revoke token ${t.name}`}>
                      Revoke
                    </button>
                  ),
              },
            ]}
            rows={list}
            rowKey={(t) => t.id}
            rowAttributes={(t) => ({ 'data-token': t.id })}
            empty={everyone ? 'No API tokens.' : 'You have no API tokens.'}
          />
        )}
      </LoadState>
    </section>
  );
}
