import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { InterSiteLink, LiveTraceResponse, Page, RouteEntry, TraceResult, TraceStep, Trunk } from '../api/types';
import { Link } from '../router';
import { useApi } from '../session';
import { useSites } from '../sites';
import { Banner, ErrorBanner } from '../ui/feedback';
import { useLoad, valueOr } from '../ui/use-load';

const ENTRIES: { value: RouteEntry; label: string }[] = [
  { value: 'internal', label: 'a phone at the site dials' },
  { value: 'from-sites', label: 'another site sends a call' },
  { value: 'from-pstn', label: 'a call arrives from the carrier (DID)' },
];

/**
 * "What happens when this number is dialled here?": the controller's step-by-step explanation (POST /trace),
 * drawn as a path, with what-ifs for links and trunks that are down.
 */
export function TracerScreen() {
  const api = useApi();
  const { sites } = useSites();
  const [siteId, setSiteId] = useState('');
  const [entry, setEntry] = useState<RouteEntry>('internal');
  const [caller, setCaller] = useState('');
  const [number, setNumber] = useState('');
  const [fromSiteId, setFromSiteId] = useState('');
  const [linksDown, setLinksDown] = useState<string[]>([]);
  const [trunksDown, setTrunksDown] = useState<string[]>([]);
  const [live, setLive] = useState(false);
  const [result, setResult] = useState<TraceResult | undefined>(undefined);
  /** Who answered: the controller (its configuration, links assumed up) or the site's agent (live). */
  const [source, setSource] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const site = siteId !== '' ? siteId : (sites[0]?.id ?? '');
  const [links] = useLoad(async () => (await api.get<Page<InterSiteLink>>('/links', { limit: 1000 })).items, [api]);
  const [trunks] = useLoad(async () => (await api.get<Page<Trunk>>('/trunks', { limit: 1000 })).items, [api]);
  const peers = valueOr(links, []).flatMap((l) => (l.a === site ? [l.b] : l.b === site ? [l.a] : []));

  const trace = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    setSource(undefined);
    const health = { links: Object.fromEntries(linksDown.map((s) => [s, 'down'])), trunks: Object.fromEntries(trunksDown.map((t) => [t, 'down'])) };
    const request = { entry, caller, number, ...(entry === 'from-sites' && fromSiteId !== '' ? { fromSiteId } : {}), health };
    let fallback: string | undefined;
    if (live) {
      try {
        const answer = await api.post<{ data: LiveTraceResponse }>(`/agents/${encodeURIComponent(site)}/live-trace`, request);
        setResult(answer.data.result);
        setSource(`Traced live by ${site}'s agent (revision ${answer.data.revision}, with its current link and trunk health).`);
        return;
      } catch (err) {
        // An agent that is offline or unreachable must not leave the admin without an answer.
        fallback = `${site}'s agent did not answer (${err instanceof ApiError ? err.message : String(err)}); this is the controller's trace of the current configuration.`;
      }
    }
    try {
      setResult(await api.post<TraceResult>('/trace', { siteId: site, ...request }));
      setSource(fallback ?? "Traced by the controller with the current configuration (links and trunks up unless ticked above).");
    } catch (err) {
      setError(err);
    }
  };
  const toggle = (list: string[], set: (v: string[]) => void, id: string, on: boolean): void => set(on ? [...list, id] : list.filter((x) => x !== id));

  return (
    <section aria-labelledby="tr-title">
      <h1 id="tr-title">Route tracer</h1>
      <p className="help">Explains, step by step, how a site would route a call — without placing one. Pretend a link or trunk is down to see the fallback.</p>
      <form className="card form" onSubmit={(e) => void trace(e)} aria-label="Trace a call">
        <div className="form-grid">
          <div className="field">
            <label htmlFor="tr-site">At site</label>
            <select id="tr-site" value={site} onChange={(e) => { setSiteId(e.target.value); setLinksDown([]); }}>
              {sites.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="tr-entry">When</label>
            <select id="tr-entry" value={entry} onChange={(e) => setEntry(e.target.value as RouteEntry)}>
              {ENTRIES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
            </select>
          </div>
          {entry === 'from-sites' && (
            <div className="field">
              <label htmlFor="tr-from">From site</label>
              <select id="tr-from" value={fromSiteId} onChange={(e) => setFromSiteId(e.target.value)}>
                <option value="">choose…</option>
                {peers.map((p) => <option key={p} value={p}>{p}</option>)}
              </select>
            </div>
          )}
          <div className="field">
            <label htmlFor="tr-caller">Caller</label>
            <input id="tr-caller" value={caller} onChange={(e) => setCaller(e.target.value)} placeholder="101" inputMode="tel" />
            <small className="help">The calling extension (its class of service applies).</small>
          </div>
          <div className="field">
            <label htmlFor="tr-number">Number dialled</label>
            <input id="tr-number" value={number} onChange={(e) => setNumber(e.target.value)} placeholder="301" inputMode="tel" required />
          </div>
        </div>
        {(peers.length > 0 || valueOr(trunks, []).length > 0) && (
          <fieldset>
            <legend>Pretend these are down</legend>
            {peers.map((p) => (
              <label key={p} className="check">
                <input type="checkbox" checked={linksDown.includes(p)} onChange={(e) => toggle(linksDown, setLinksDown, p, e.target.checked)} /> link to {p}
              </label>
            ))}
            {valueOr(trunks, []).map((t) => (
              <label key={t.id} className="check">
                <input type="checkbox" checked={trunksDown.includes(t.id)} onChange={(e) => toggle(trunksDown, setTrunksDown, t.id, e.target.checked)} /> trunk {t.name} ({t.siteId})
              </label>
            ))}
          </fieldset>
        )}
        <label className="check">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Ask the site’s agent (what the site runs now, with its live link and trunk health)
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={number === '' || site === ''}>Trace</button>
        </div>
      </form>
      {error !== undefined && <ErrorBanner error={error} />}
      {source !== undefined && result !== undefined && <Banner kind="info">{source}</Banner>}
      {result !== undefined && <TraceDrawing result={result} siteId={site} />}
    </section>
  );
}

function TraceDrawing({ result, siteId }: { result: TraceResult; siteId: string }) {
  const { plan, steps } = result;
  const flows = plan.attempts.flatMap((a) => (a.kind === 'flow' ? [a.flowId] : []));
  return (
    <section className="trace" aria-label="Trace result">
      <div className={`trace-outcome ${plan.outcome === 'route' ? 'ok' : 'bad'}`} role="status">
        <strong>{plan.outcome === 'route' ? `Routed: ${plan.routeKind}` : `Refused: ${plan.deny?.code ?? plan.routeKind}`}</strong>
        {plan.deny !== undefined && <span> — {plan.deny.message}</span>}
        <span className="muted"> · call class {plan.callClass}{plan.record ? ' · recorded' : ''}</span>
      </div>
      <ol className="trace-steps">
        {steps.map((s, i) => (
          <li key={i} className={`trace-step step-${s.step}${isSkipped(s) ? ' skipped' : ''}${isPlan(s) ? ' plan' : ''}`} data-plan={isPlan(s) ? 'true' : undefined}>
            <span className="step-kind">{s.step}</span>
            <span className="step-detail">{s.detail}</span>
          </li>
        ))}
      </ol>
      {plan.attempts.length > 0 && (
        <>
          <h2>Tried in this order</h2>
          <ol className="attempts">
            {plan.attempts.map((a, i) => (
              <li key={i}>
                {a.kind === 'endpoint' && `ring ${a.endpoint} (${a.timeoutSec} s)`}
                {a.kind === 'site' && `send ${a.number} to ${a.siteId}${a.via !== a.siteId ? ` via ${a.via}` : ''}`}
                {a.kind === 'trunk' && `dial ${a.number} through trunk ${a.trunkId} at ${a.trunkSiteId}${a.via !== undefined ? ` via ${a.via}` : ''} (${a.reason})`}
                {a.kind === 'flow' && (
                  <>
                    run call flow <Link to={`/sites/${siteId}/flows/${a.flowId}`}>{a.flowId}</Link>
                  </>
                )}
                {a.kind === 'voicemail' && `voicemail ${a.mailbox}`}
              </li>
            ))}
          </ol>
        </>
      )}
      {flows.length > 0 && <p className="help">The call continues in the flow’s diagram: open it to follow each step.</p>}
    </section>
  );
}

const isSkipped = (s: TraceStep): boolean => s.data?.['skipped'] === true;
/** A fallback prepared for a failure that has not happened (drawn neutral, not as a skip). */
const isPlan = (s: TraceStep): boolean => s.data?.['plan'] === true;
