import { useState, type FormEvent } from 'react';
import type { CallDetail, CdrPage, CdrRecord } from '../api/types';
import { useApi } from '../session';
import { useSites } from '../sites';
import { DataTable, type Column } from '../ui/data-table';
import { ErrorBanner, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';

const DISPOSITIONS = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION'];
/** What the call records list and a call's legs both show first. */
const RECORD_COLUMNS: readonly Column<CdrRecord>[] = [
  { header: 'Start', cell: (c) => new Date(c.start).toLocaleString() },
  { header: 'Site', cell: (c) => c.siteId },
  { header: 'From', cell: (c) => c.src },
  { header: 'To', cell: (c) => c.dst },
  { header: 'Result', cell: (c) => c.disposition.toLowerCase() },
];
const ROUTE_KINDS = ['local', 'site', 'pstn', 'teho', 'emergency', 'flow', 'voicemail', 'none'];

interface Filters {
  siteId: string;
  from: string;
  to: string;
  src: string;
  dst: string;
  disposition: string;
  routeKind: string;
}
const EMPTY: Filters = { siteId: '', from: '', to: '', src: '', dst: '', disposition: '', routeKind: '' };

/** `datetime-local` value -> ISO time (the API takes ISO datetimes). */
const iso = (local: string): string | undefined => (local === '' ? undefined : new Date(local).toISOString());

/** Call records from every site the caller can see, newest first, with filters and paging. */
export function CdrScreen() {
  const api = useApi();
  const { sites } = useSites();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [more, setMore] = useState<CdrRecord[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [moreError, setMoreError] = useState<unknown>(undefined);
  const query = (f: Filters, c?: string) => ({ ...f, from: iso(f.from), to: iso(f.to), limit: 50, cursor: c });
  const [page] = useLoad(async () => {
    const p = await api.get<CdrPage>('/cdrs', query(applied));
    setMore([]);
    setCursor(p.nextCursor);
    return p;
    // New records show at the top while only the first page is shown (a reload would drop pages read further on).
  }, [api, applied], more.length === 0 ? ['cdrs'] : undefined);

  const loadMore = async (): Promise<void> => {
    if (cursor === null) return;
    try {
      const p = await api.get<CdrPage>('/cdrs', query(applied, cursor));
      setMore((old) => [...old, ...p.items]);
      setCursor(p.nextCursor);
    } catch (e) {
      setMoreError(e);
    }
  };
  // One call across sites: its legs at the sites this user may read (GET /calls/<origin site>/<linkedid>).
  const [call, setCall] = useState<{ id: string; detail?: CallDetail; error?: unknown } | undefined>(undefined);
  const openCall = async (callId: string): Promise<void> => {
    setCall({ id: callId });
    try {
      setCall({ id: callId, detail: await api.get<CallDetail>(`/calls/${callId}`) });
    } catch (e) {
      setCall({ id: callId, error: e });
    }
  };
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setApplied(draft);
  };
  const input = (k: keyof Filters, label: string, type = 'text') => (
    <div className="field">
      <label htmlFor={`cdr-${k}`}>{label}</label>
      <input id={`cdr-${k}`} type={type} value={draft[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </div>
  );
  const select = (k: keyof Filters, label: string, options: readonly { value: string; label: string }[]) => (
    <div className="field">
      <label htmlFor={`cdr-${k}`}>{label}</label>
      <select id={`cdr-${k}`} value={draft[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })}>
        <option value="">any</option>
        {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
    </div>
  );

  return (
    <section aria-labelledby="cdr-title">
      <h1 id="cdr-title">Call records</h1>
      <form className="card form" onSubmit={submit} aria-label="Filter call records">
        <div className="form-grid">
          {select('siteId', 'Site', sites.map((s) => ({ value: s.id, label: s.name })))}
          {input('from', 'From', 'datetime-local')}
          {input('to', 'To', 'datetime-local')}
          {input('src', 'Caller')}
          {input('dst', 'Number dialled')}
          {select('disposition', 'Result', DISPOSITIONS.map((d) => ({ value: d, label: d.toLowerCase() })))}
          {select('routeKind', 'Route', ROUTE_KINDS.map((r) => ({ value: r, label: r })))}
        </div>
        <div className="actions">
          <button type="submit" className="primary">Show</button>
          <button type="button" className="link" onClick={() => { setDraft(EMPTY); setApplied(EMPTY); }}>Clear filters</button>
        </div>
      </form>
      {call !== undefined && (
        <section className="card" aria-label={`Call ${call.id}`}>
          <h2>Call {call.id}</h2>
          {call.error !== undefined && <ErrorBanner error={call.error} />}
          {call.detail === undefined && call.error === undefined && <p>Loading the call…</p>}
          {call.detail !== undefined && (
            <>
              <p>
                Started at {call.detail.originSiteId} {new Date(call.detail.start).toLocaleString()}; {call.detail.answered ? 'answered' : 'not answered'}, legs at{' '}
                {call.detail.sites.join(', ')}
                {call.detail.legsElsewhere > 0 ? ` and ${call.detail.legsElsewhere} at sites you cannot see` : ''}.
              </p>
              <DataTable
                label="Legs of the call"
                columns={[
                  ...RECORD_COLUMNS,
                  { header: 'Route', cell: (c) => routeText(c) },
                ]}
                rows={call.detail.legs}
                rowKey={(c) => `${c.siteId}/${c.cdrId}`}
              />
            </>
          )}
          <button type="button" className="link" onClick={() => setCall(undefined)}>Close</button>
        </section>
      )}
      <LoadState loaded={page} what="call records">
        {(p) => {
          const rows = [...p.items, ...more];
          const legsIn = new Map<string, number>();
          for (const r of rows) legsIn.set(r.callId, (legsIn.get(r.callId) ?? 0) + 1);
          return rows.length === 0 ? (
            <p>No calls match. Calls appear here once the sites’ agents report them.</p>
          ) : (
            <>
              <DataTable
                label="Call records"
                columns={[
                  ...RECORD_COLUMNS,
                  { header: 'Talk time', cell: (c) => `${c.billSec} s` },
                  { header: 'Route', cell: (c) => routeText(c) },
                  { header: 'Origin', cell: (c) => c.originSiteId ?? '—' },
                  {
                    header: 'Call',
                    cell: (c) => (
                      <button type="button" className="link" onClick={() => void openCall(c.callId)} title={c.callId}>
                        {(legsIn.get(c.callId) ?? 1) > 1 ? `${legsIn.get(c.callId)} legs` : 'legs'}
                      </button>
                    ),
                  },
                  {
                    header: 'Recording',
                    cell: (c) =>
                      c.recordingFile !== undefined ? <span title={`kept at ${c.siteId}: ${c.recordingFile}`}>{c.recordingFile.split('/').pop()} <span className="muted">(at {c.siteId})</span></span> : '—',
                  },
                ]}
                rows={rows}
                rowKey={(c) => `${c.siteId}/${c.cdrId}`}
              />
              {moreError !== undefined && <ErrorBanner error={moreError} />}
              {cursor !== null && <button type="button" onClick={() => void loadMore()}>Load older calls</button>}
            </>
          );
        }}
      </LoadState>
    </section>
  );
}

/** A leg's own decision: route kind, target site, trunk. */
function routeText(c: CdrRecord): string {
  return `${c.routeKind ?? '—'}${c.targetSiteId !== undefined ? ` → ${c.targetSiteId}` : ''}${c.trunkId !== undefined ? ` (${c.trunkId})` : ''}`;
}
