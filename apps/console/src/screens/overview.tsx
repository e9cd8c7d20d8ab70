import { itemsOf } from '../api/client';
import type { ActiveCallsView, AgentStatus, InterSiteLink, NumberingPlanView, Page, Site, SiteRollout } from '../api/types';
import { Link } from '../router';
import { useApi } from '../session';
import { useSites } from '../sites';
import { DataTable } from '../ui/data-table';
import { LoadState, NotAvailable } from '../ui/feedback';
import { NoAccess, useHasNoAccess } from '../ui/no-access';
import { useLoad, valueOr, type Loaded } from '../ui/use-load';
import { FederationMap } from './federation-map';
import { siteColumn } from './sites';

/** Federation at a glance: each site's agent and configuration rollout, and the health of the links between sites. */
export function OverviewScreen() {
  const api = useApi();
  const { loaded: sites } = useSites();
  const [agents] = useLoad(async () => itemsOf(await api.get<{ items: AgentStatus[] } | AgentStatus[]>('/agents')), [api], ['agents', 'health']);
  const [rollout] = useLoad(async () => itemsOf(await api.get<{ items: SiteRollout[] } | SiteRollout[]>('/rollout')), [api], ['rollout']);
  const [calls] = useLoad(() => api.get<ActiveCallsView>('/active-calls'), [api], ['calls']);
  const [links] = useLoad(async () => (await api.get<Page<InterSiteLink>>('/links', { limit: 1000 })).items, [api], { topics: ['config'], kinds: ['link'] });
  // The hub, for the map (every role may read the numbering plan).
  const [plan] = useLoad(() => api.get<NumberingPlanView>('/numbering-plan'), [api], { topics: ['config'], kinds: ['federation', 'site'] });
  const noAccess = useHasNoAccess();

  return (
    <section aria-labelledby="ov-title">
      <h1 id="ov-title">Federation overview</h1>
      {noAccess ? <NoAccess /> : <LoadState loaded={sites} what="sites">
        {(list) =>
          list.length === 0 ? (
            <p>
              No sites yet. Head office <Link to="/sites">creates the first site</Link>; then add its number ranges, connect its agent, and add its extensions and trunks.
            </p>
          ) : (
            <>
              <RolloutSummary rollout={rollout} />
              <SitesTable sites={list} agents={agents} rollout={rollout} calls={calls} />
              <h2>Map</h2>
              <p className="help">Offices and the links between them, coloured by the health their agents report; each office filled by its configuration rollout. Click an office to open it.</p>
              <LoadState loaded={links} what="links">
                {(l) => {
                  const hub = valueOr(plan, undefined)?.hubSiteId;
                  return (
                    <FederationMap
                      sites={list}
                      links={l}
                      agents={agents.state === 'ok' ? agents.value : undefined}
                      rollout={rollout.state === 'ok' ? rollout.value : undefined}
                      {...(hub !== undefined ? { hubSiteId: hub } : {})}
                    />
                  );
                }}
              </LoadState>
              <h2>Links between sites</h2>
              <p className="help">Each cell is the link between the row’s site and the column’s site, as the row’s agent last reported it.</p>
              <LoadState loaded={links} what="links">
                {(l) => <LinkMatrix sites={list} links={l} agents={valueOr(agents, [])} />}
              </LoadState>
            </>
          )
        }
      </LoadState>}
    </section>
  );
}

function RolloutSummary({ rollout }: { rollout: Loaded<SiteRollout[]> }) {
  if (rollout.state !== 'ok' || rollout.value.length === 0) return null;
  const inSync = rollout.value.filter((r) => r.state === 'in-sync').length;
  const total = rollout.value.length;
  return (
    <div className="summary" role="status">
      <progress max={total} value={inSync} aria-label="Sites running the current configuration" /> {inSync} of {total} sites run their current configuration
    </div>
  );
}

function SitesTable({ sites, agents, rollout, calls }: { sites: readonly Site[]; agents: Loaded<AgentStatus[]>; rollout: Loaded<SiteRollout[]>; calls: Loaded<ActiveCallsView> }) {
  const callsAt = new Map((calls.state === 'ok' ? calls.value.sites : []).map((s) => [s.siteId, s.total]));
  const agentOf = new Map(valueOr(agents, []).map((a) => [a.siteId, a]));
  const rolloutOf = new Map(valueOr(rollout, []).map((r) => [r.siteId, r]));
  return (
    <>
      <DataTable
        caption="Sites, their agents and configuration rollout"
        columns={[
          siteColumn,
          { header: 'Prefix', cell: (s) => `${s.prefix ?? '—'}${s.prefixRequired ? ' (required)' : ''}` },
          { header: 'Agent', cell: (s) => (agents.state === 'ok' ? <AgentCell agent={agentOf.get(s.id)} /> : <span className="muted">—</span>) },
          { header: 'Configuration (applied / current)', cell: (s) => (rollout.state === 'ok' ? <RevisionCell r={rolloutOf.get(s.id)} /> : <span className="muted">—</span>) },
          { header: 'Rollout', cell: (s) => (rollout.state === 'ok' ? <RolloutCell r={rolloutOf.get(s.id)} /> : <span className="muted">—</span>) },
          {
            header: 'Calls now',
            // No number without a current report from the agent: "0" would claim a silent site is idle.
            cell: (s) => (callsAt.has(s.id) ? <Link to="/calls" data-calls={s.id}>{callsAt.get(s.id)}</Link> : <span className="muted" title="no current report from the agent">—</span>),
          },
        ]}
        rows={sites}
        rowKey={(s) => s.id}
        rowAttributes={(s) => ({ 'data-site': s.id })}
      />
      {agents.state === 'unavailable' && <NotAvailable what="agent status" />}
      {rollout.state === 'unavailable' && <NotAvailable what="rollout status" />}
    </>
  );
}

function AgentCell({ agent }: { agent: AgentStatus | undefined }) {
  if (agent === undefined) return <span className="pill pill-unknown">never seen</span>;
  return (
    <span>
      <span className={`pill ${agent.online ? 'pill-ok' : 'pill-bad'}`}>{agent.online ? 'online' : 'offline'}</span>{' '}
      {agent.lastSeenAt !== null && <span className="muted">last seen {new Date(agent.lastSeenAt).toLocaleString()}</span>}
      {agent.alarms.map((a) => (
        <span key={a.code} className={`pill ${a.severity === 'critical' ? 'pill-bad' : 'pill-unknown'}`} title={a.message} data-alarm={a.code}>
          {' '}alarm: {a.code}
        </span>
      ))}
    </span>
  );
}

function RevisionCell({ r }: { r: SiteRollout | undefined }) {
  if (r === undefined) return <span className="muted">—</span>;
  const applied = r.appliedRevision ?? 0;
  return (
    <span>
      <progress max={Math.max(1, r.currentRevision)} value={Math.min(applied, r.currentRevision)} aria-label={`revision ${applied} of ${r.currentRevision} applied`} />{' '}
      {r.appliedRevision ?? 'none'} / {r.currentRevision}
    </span>
  );
}

function RolloutCell({ r }: { r: SiteRollout | undefined }) {
  if (r === undefined) return <span className="muted">—</span>;
  const tone = r.state === 'in-sync' ? 'pill-ok' : r.state === 'refused' || r.state === 'config-failed' ? 'pill-bad' : 'pill-warn';
  const failure = r.configFailure;
  return (
    <span>
      <span className={`pill ${tone}`}>{r.state}</span>
      {r.state !== 'in-sync' && r.behindSec > 0 && <span className="muted"> behind for {formatDuration(r.behindSec)}</span>}
      {r.refused !== null && <div className="field-error">revision {r.refused.revision} refused: {r.refused.reason}</div>}
      {failure !== null && (
        <div className="field-error">
          Asterisk files of revision {failure.revision} not {failure.kind === 'render' ? 'rendered' : 'written'}: {failure.object}, {failure.field}: {failure.reason}
          {' '}(Asterisk keeps the last good files; calls route by the new revision)
        </div>
      )}
    </span>
  );
}

function LinkMatrix({ sites, links, agents }: { sites: readonly Site[]; links: readonly InterSiteLink[]; agents: readonly AgentStatus[] }) {
  const linked = (a: string, b: string): boolean => links.some((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a));
  const stateOf = (from: string, to: string): string | undefined => agents.find((x) => x.siteId === from)?.links.find((l) => l.peerSiteId === to)?.state;
  return (
    <div className="table-wrap">
      <table className="matrix">
        <caption className="sr-only">Link health between sites</caption>
        <thead>
          <tr>
            <td />
            {sites.map((s) => (
              <th key={s.id} scope="col">{s.id}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sites.map((row) => (
            <tr key={row.id}>
              <th scope="row">{row.id}</th>
              {sites.map((col) => {
                if (row.id === col.id) return <td key={col.id} className="cell-self" aria-label="same site" />;
                if (!linked(row.id, col.id)) return <td key={col.id} className="cell-none">no link</td>;
                const state = stateOf(row.id, col.id) ?? 'unknown';
                return (
                  <td key={col.id} className={`cell-${state}`}>
                    {state}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function formatDuration(sec: number): string {
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${Math.round(sec / 3600)} h`;
  return `${Math.round(sec / 86400)} days`;
}
