import { useState, type FormEvent } from 'react';
import type { CdrPage, CdrRecord } from '../api/types';
import { useApi } from '../session';
import { useSites } from '../sites';
import { ErrorBanner, LoadState } from '../ui/feedback';
import { useLoad } from '../ui/use-load';

const DISPOSITIONS = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION'];
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
  }, [api, applied]);

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
      <LoadState loaded={page} what="call records">
        {(p) => {
          const rows = [...p.items, ...more];
          return rows.length === 0 ? (
            <p>No calls match. Calls appear here once the sites’ agents report them.</p>
          ) : (
            <>
              <div className="table-wrap">
                <table aria-label="Call records">
                  <thead>
                    <tr>
                      <th scope="col">Start</th>
                      <th scope="col">Site</th>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col">Result</th>
                      <th scope="col">Talk time</th>
                      <th scope="col">Route</th>
                      <th scope="col">Recording</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((c) => (
                      <tr key={`${c.siteId}/${c.cdrId}`}>
                        <td>{new Date(c.start).toLocaleString()}</td>
                        <td>{c.siteId}</td>
                        <td>{c.src}</td>
                        <td>{c.dst}</td>
                        <td>{c.disposition.toLowerCase()}</td>
                        <td>{c.billSec} s</td>
                        <td>{c.routeKind ?? '—'}{c.targetSiteId !== undefined ? ` → ${c.targetSiteId}` : ''}{c.trunkId !== undefined ? ` (${c.trunkId})` : ''}</td>
                        <td>
                          {c.recordingFile !== undefined ? <span title={`kept at ${c.siteId}: ${c.recordingFile}`}>{c.recordingFile.split('/').pop()} <span className="muted">(at {c.siteId})</span></span> : '—'}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {moreError !== undefined && <ErrorBanner error={moreError} />}
              {cursor !== null && <button type="button" onClick={() => void loadMore()}>Load older calls</button>}
            </>
          );
        }}
      </LoadState>
    </section>
  );
}
