import { useState } from 'react';
import type { AuditEntry } from '../api/types';
import { useApi } from '../session';
import { DataTable } from '../ui/data-table';
import { ErrorBanner, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';

/** Every change: who, when, what, before and after (credentials masked by the controller). Newest first. */
export function AuditScreen() {
  const api = useApi();
  const [first] = useLoad(() => api.get<{ items: AuditEntry[]; next?: string }>('/audit', { limit: 50 }), [api]);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string | undefined | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const cursor = next === null ? (first.state === 'ok' ? first.value.next : undefined) : next;

  const loadMore = async (): Promise<void> => {
    if (cursor === undefined) return;
    try {
      const p = await api.get<{ items: AuditEntry[]; next?: string }>('/audit', { limit: 50, before: cursor });
      setOlder((o) => [...o, ...p.items]);
      setNext(p.next);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="au-title">
      <h1 id="au-title">Audit log</h1>
      <LoadState loaded={first} what="the audit log">
        {(p) => (
          <>
            <DataTable
              label="Audit log"
              columns={[
                { header: 'When', cell: (a) => new Date(a.at).toLocaleString() },
                { header: 'Who', cell: (a) => a.actor },
                { header: 'What', cell: (a) => a.action },
                {
                  header: 'Object',
                  cell: (a) => (
                    <>
                      {a.objectType} {a.objectId}
                      {a.siteIds !== undefined && a.siteIds.length > 0 && <div className="muted">{a.siteIds.join(', ')}</div>}
                    </>
                  ),
                },
                {
                  header: 'Change',
                  cell: (a) =>
                    (a.before !== undefined || a.after !== undefined) && (
                      <details>
                        <summary>before / after</summary>
                        <div className="diff">
                          <pre aria-label="before">{a.before === undefined ? '—' : JSON.stringify(a.before, null, 2)}</pre>
                          <pre aria-label="after">{a.after === undefined ? '—' : JSON.stringify(a.after, null, 2)}</pre>
                        </div>
                      </details>
                    ),
                },
              ]}
              rows={[...p.items, ...older]}
              rowKey={(a) => a.id}
            />
            {error !== undefined && <ErrorBanner error={error} />}
            {cursor !== undefined && <button type="button" onClick={() => void loadMore()}>Load older entries</button>}
          </>
        )}
      </LoadState>
    </section>
  );
}
