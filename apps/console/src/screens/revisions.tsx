import { useEffect, useRef, useState } from 'react';
import type { RevisionDiff, RevisionSummary, WriteResponse } from '../api/types';
import { useApi, useSession } from '../session';
import { DataTable } from '../ui/data-table';
import { Banner, ErrorBanner, ImpactPreview, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';
import { RevisionDiffView } from './revision-diff-view';

const PAGE = 50;

/**
 * A site's revisions: every saved configuration, newest first. Compare any two, see what one revision changed,
 * and roll back to an earlier one after seeing what would change and a dry run of the rollback.
 */
export function RevisionsScreen({ siteId }: { siteId: string }) {
  const api = useApi();
  const writable = useSession().canWrite(siteId);
  const base = `/sites/${encodeURIComponent(siteId)}/revisions`;
  const [first, reload] = useLoad(
    async () => (await api.get<{ items: RevisionSummary[] }>(base, { limit: PAGE })).items,
    [api, base],
    { topics: ['config', 'rollout'], siteId },
  );
  const [older, setOlder] = useState<RevisionSummary[]>([]);
  const [olderDone, setOlderDone] = useState(false);
  const [compare, setCompare] = useState<{ from: number; to: number } | undefined>(undefined);
  const [rollbackTo, setRollbackTo] = useState<number | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const list = first.state === 'ok' ? [...first.value, ...older] : [];
  const head = list[0]?.revision;
  // The buttons sit in the table below; move focus (and the view) to what they open above it.
  const opened = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (compare !== undefined || rollbackTo !== undefined) opened.current?.focus();
  }, [compare, rollbackTo]);

  const loadOlder = async (): Promise<void> => {
    const last = list[list.length - 1];
    if (last === undefined) return;
    try {
      const page = (await api.get<{ items: RevisionSummary[] }>(base, { limit: PAGE, before: last.revision }))
        .items;
      setOlder((o) => [...o, ...page]);
      if (page.length < PAGE) setOlderDone(true);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="rev-title">
      <h1 id="rev-title">
        Revisions <span className="muted">at {siteId}</span>
      </h1>
      <p className="help">
        Every change that alters what this office runs is saved as a new revision. Compare two to see what
        changed; roll back to restore what the office owned then (its settings, ranges, extensions, trunks,
        inbound numbers and call flows). A rollback is itself a new revision, so it can be undone the same
        way.
      </p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {error !== undefined && <ErrorBanner error={error} />}
      <div ref={opened} tabIndex={-1} className="focus-target">
        {writable && rollbackTo !== undefined && head !== undefined && (
          <RollbackPanel
            key={rollbackTo}
            base={base}
            siteId={siteId}
            head={head}
            target={rollbackTo}
            onDone={(m) => {
              setRollbackTo(undefined);
              setCompare(undefined);
              setOlder([]);
              setOlderDone(false);
              setMessage(m);
              reload();
            }}
            onCancel={() => setRollbackTo(undefined)}
          />
        )}
        {rollbackTo === undefined && list.length > 1 && (
          <CompareForm
            revisions={list}
            value={compare}
            onCompare={(c) => {
              setMessage(undefined);
              setCompare(c);
            }}
          />
        )}
        {rollbackTo === undefined && compare !== undefined && (
          <DiffLoader base={base} from={compare.from} to={compare.to} />
        )}
      </div>
      <LoadState loaded={first} what="revisions">
        {() =>
          list.length === 0 ? (
            <p>No revisions yet: the first change at this site makes revision 1.</p>
          ) : (
            <>
              <DataTable
                label="Revisions"
                columns={[
                  {
                    header: 'Revision',
                    rowHeader: true,
                    cell: ({ r }) => (
                      <>
                        {r.revision}
                        {r.revision === head && <span className="pill pill-ok">current</span>}
                      </>
                    ),
                  },
                  { header: 'When', cell: ({ r }) => new Date(r.createdAt).toLocaleString() },
                  { header: 'Who', cell: ({ r }) => r.actor },
                  { header: 'Why', cell: ({ r }) => r.reason },
                  {
                    header: 'Actions',
                    hideHeader: true,
                    className: 'row-actions',
                    cell: ({ r, previous }) => (
                      <>
                        {previous !== undefined && (
                          <button
                            type="button"
                            onClick={() => {
                              setMessage(undefined);
                              setRollbackTo(undefined);
                              setCompare({ from: previous, to: r.revision });
                            }}
                            aria-label={`Changes in revision ${r.revision}`}
                          >
                            Changes
                          </button>
                        )}
                        {writable && r.revision !== head && (
                          <button
                            type="button"
                            onClick={() => {
                              setMessage(undefined);
                              setRollbackTo(r.revision);
                            }}
                            aria-label={`Roll back to revision ${r.revision}`}
                          >
                            Roll back to this
                          </button>
                        )}
                      </>
                    ),
                  },
                ]}
                // Each revision with the one before it (on this list, else by number), which "Changes" compares it to.
                rows={list.map((r, i) => ({ r, previous: list[i + 1]?.revision ?? (r.revision > 1 ? r.revision - 1 : undefined) }))}
                rowKey={({ r }) => r.revision}
                rowAttributes={({ r }) => ({ 'data-revision': r.revision })}
              />
              {!olderDone && first.state === 'ok' && first.value.length === PAGE && (
                <button type="button" onClick={() => void loadOlder()}>
                  Load older revisions
                </button>
              )}
            </>
          )
        }
      </LoadState>
    </section>
  );
}

function CompareForm({
  revisions,
  value,
  onCompare,
}: {
  revisions: readonly RevisionSummary[];
  value: { from: number; to: number } | undefined;
  onCompare: (c: { from: number; to: number }) => void;
}) {
  const [from, setFrom] = useState(value?.from ?? revisions[1]?.revision ?? 0);
  const [to, setTo] = useState(value?.to ?? revisions[0]?.revision ?? 0);
  useEffect(() => {
    if (value !== undefined) {
      setFrom(value.from);
      setTo(value.to);
    }
  }, [value]);
  const options = revisions.map((r) => (
    <option key={r.revision} value={r.revision}>
      {r.revision} — {r.reason}
    </option>
  ));
  return (
    <form
      className="card inline compare"
      aria-label="Compare revisions"
      onSubmit={(e) => {
        e.preventDefault();
        onCompare({ from, to });
      }}
    >
      <label htmlFor="cmp-from">Compare revision</label>
      <select id="cmp-from" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
        {options}
      </select>
      <label htmlFor="cmp-to">with</label>
      <select id="cmp-to" value={to} onChange={(e) => setTo(Number(e.target.value))}>
        {options}
      </select>
      <button type="submit">Compare</button>
    </form>
  );
}

function DiffLoader({ base, from, to, title }: { base: string; from: number; to: number; title?: string }) {
  const api = useApi();
  const [diff] = useLoad(
    async () => (await api.get<{ data: RevisionDiff }>(`${base}/diff`, { from, to })).data,
    [api, base, from, to],
  );
  return (
    <LoadState loaded={diff} what="the differences">
      {(d) => <RevisionDiffView diff={d} title={title ?? `From revision ${from} to revision ${to}`} />}
    </LoadState>
  );
}

/** Confirmation of a rollback: what would change (current -> target) and the server's dry run, then the real one. */
function RollbackPanel({
  base,
  siteId,
  head,
  target,
  onDone,
  onCancel,
}: {
  base: string;
  siteId: string;
  head: number;
  target: number;
  onDone: (m: string) => void;
  onCancel: () => void;
}) {
  const api = useApi();
  const url = `${base}/${target}/rollback`;
  const [preview] = useLoad(() => api.post<WriteResponse>(url, undefined, { dryRun: true }), [api, url]);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const rollBack = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.post<WriteResponse>(url);
      const made = answer.revisions.find((r) => r.siteId === siteId)?.revision;
      onDone(
        made !== undefined
          ? `Rolled back: revision ${made} restores revision ${target}.`
          : `Rolled back to revision ${target} (nothing the site runs changed).`,
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card rollback" aria-labelledby="rb-title">
      <h2 id="rb-title">
        Roll back {siteId} to revision {target}?
      </h2>
      <p className="help">
        Nothing changes until you press “Roll back”. The restored configuration is checked against today’s
        federation like any other change.
      </p>
      <DiffLoader
        base={base}
        from={head}
        to={target}
        title={`What would change (current revision ${head} → revision ${target})`}
      />
      {preview.state === 'loading' && (
        <p className="muted" aria-busy="true">
          Checking the rollback…
        </p>
      )}
      {preview.state === 'ok' && <ImpactPreview preview={preview.value} />}
      {(preview.state === 'error' || preview.state === 'unavailable') && (
        <ErrorBanner error={preview.error} />
      )}
      {error !== undefined && <ErrorBanner error={error} />}
      <div className="actions">
        <button
          type="button"
          className="primary danger-fill"
          onClick={() => void rollBack()}
          disabled={busy || (preview.state === 'ok' && !preview.value.validation.ok)}
        >
          Roll back to revision {target}
        </button>
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}
