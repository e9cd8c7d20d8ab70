import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { ApiTokenRecord } from '../api/types';
import { useApi, useSession } from '../session';
import { Banner, ErrorBanner, LoadState } from '../ui/feedback';
import { CopyBox } from '../ui/copy-box';
import { DataTable } from '../ui/data-table';
import { Field, problemsByField } from '../ui/field';
import { useLoad } from '../ui/use-load';

/**
 * The signed-in user's API tokens, for integrations (scripts, provisioning, monitoring). A token acts with its
 * user's rights; it is shown once when created, and can be revoked at any time.
 */
export function ApiTokensScreen() {
  const api = useApi();
  const { me } = useSession();
  const [tokens, reload] = useLoad(async () => (await api.get<{ items: ApiTokenRecord[] }>('/api-tokens')).items, [api]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<(ApiTokenRecord & { token: string }) | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const problems = error instanceof ApiError ? problemsByField(error.problems) : {};

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setMessage(undefined);
    try {
      setCreated(await api.post<ApiTokenRecord & { token: string }>('/api-tokens', { name: name.trim() }));
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
        A token acts as you ({me?.username}), with your rights, until revoked.
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
        <div className="actions">
          <button type="submit" className="primary">
            Create token
          </button>
        </div>
      </form>
      {error !== undefined && !(error instanceof ApiError && error.problems.length > 0 && problems['name'] !== undefined) && <ErrorBanner error={error} />}
      <LoadState loaded={tokens} what="API tokens">
        {(list) => (
          <DataTable
            label="API tokens"
            columns={[
              { header: 'Name', rowHeader: true, cell: (t) => t.name },
              { header: 'Created', cell: (t) => new Date(t.createdAt).toLocaleString() },
              {
                header: 'State',
                cell: (t) =>
                  t.revokedAt === undefined ? <span className="pill pill-ok">active</span> : <span className="pill pill-unknown">revoked {new Date(t.revokedAt).toLocaleString()}</span>,
              },
              {
                header: 'Actions',
                hideHeader: true,
                cell: (t) =>
                  t.revokedAt === undefined && (
                    <button type="button" className="danger" onClick={() => void revoke(t)} aria-label={`Revoke token ${t.name}`}>
                      Revoke
                    </button>
                  ),
              },
            ]}
            rows={list}
            rowKey={(t) => t.id}
            rowAttributes={(t) => ({ 'data-token': t.id })}
            empty="You have no API tokens."
          />
        )}
      </LoadState>
    </section>
  );
}
