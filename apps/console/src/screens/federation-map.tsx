import type { AgentStatus, InterSiteLink, RolloutState, Site, SiteRollout } from '../api/types';
import { navigate } from '../router';

export type LinkHealth = 'up' | 'down' | 'unknown';

/**
 * A link's health from what its two ends' agents last reported: down when either end sees it down (calls fail
 * that way), up when an end sees it up and neither sees it down, unknown while neither has reported.
 */
export function linkHealth(link: Pick<InterSiteLink, 'a' | 'b'>, agents: readonly AgentStatus[]): LinkHealth {
  const seen = (from: string, to: string) => agents.find((x) => x.siteId === from)?.links.find((l) => l.peerSiteId === to)?.state;
  const ends = [seen(link.a, link.b), seen(link.b, link.a)];
  if (ends.includes('down')) return 'down';
  if (ends.includes('up')) return 'up';
  return 'unknown';
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Space between neighbouring sites on the circle, in drawing units: room for a label under each. */
const SPACING = 90;
const MIN_RADIUS = 150;

/**
 * Where each site is drawn: on a circle in id order (stable while sites come and go), the hub (if any) in the
 * middle, since every spoke's link goes to it. The circle grows with the number of sites so labels keep apart
 * (3 to 50 sites).
 */
export function layoutSites(siteIds: readonly string[], hubSiteId?: string): { positions: Map<string, Point>; radius: number } {
  const ring = [...siteIds].filter((s) => s !== hubSiteId).sort();
  const hub = hubSiteId !== undefined && siteIds.includes(hubSiteId) ? hubSiteId : undefined;
  const radius = Math.max(MIN_RADIUS, (SPACING * ring.length) / (2 * Math.PI));
  const positions = new Map<string, Point>();
  if (hub !== undefined) positions.set(hub, { x: 0, y: 0 });
  ring.forEach((id, i) => {
    // From the top, clockwise.
    const angle = (2 * Math.PI * i) / Math.max(1, ring.length) - Math.PI / 2;
    positions.set(id, ring.length === 1 && hub === undefined ? { x: 0, y: 0 } : { x: Math.round(radius * Math.cos(angle)), y: Math.round(radius * Math.sin(angle)) });
  });
  return { positions, radius };
}

const ROLLOUT_TONE: Record<RolloutState, 'ok' | 'warn' | 'bad' | 'unknown'> = {
  'in-sync': 'ok',
  publishing: 'warn',
  applying: 'warn',
  refused: 'bad',
  'config-failed': 'bad',
  'never-seen': 'unknown',
};

const HEALTH_WORDS: Record<LinkHealth, string> = { up: 'up', down: 'down', unknown: 'not reported yet' };

/**
 * The federation as a map: sites as nodes (filled by their rollout state, ringed by whether their agent is
 * online), links as edges coloured by the health their ends report. A click on a site opens its page.
 */
export function FederationMap(props: {
  readonly sites: readonly Site[];
  readonly links: readonly InterSiteLink[];
  readonly agents: readonly AgentStatus[] | undefined;
  readonly rollout: readonly SiteRollout[] | undefined;
  readonly hubSiteId?: string;
}) {
  const { sites, links, agents, rollout, hubSiteId } = props;
  const { positions, radius } = layoutSites(
    sites.map((s) => s.id),
    hubSiteId,
  );
  const nodeRadius = sites.length > 20 ? 14 : 22;
  const margin = 70;
  const half = radius + margin;
  const rolloutOf = new Map((rollout ?? []).map((r) => [r.siteId, r]));
  const agentOf = new Map((agents ?? []).map((a) => [a.siteId, a]));
  const drawn = links.filter((l) => positions.has(l.a) && positions.has(l.b));
  return (
    <figure className="fed-map" data-testid="federation-map">
      <svg viewBox={`${-half} ${-half} ${2 * half} ${2 * half + 20}`} role="img" aria-labelledby="fed-map-title" style={{ maxHeight: `${Math.min(720, 2 * half + 20)}px` }}>
        <title id="fed-map-title">{`Map of the federation: ${sites.length} sites, ${drawn.length} links`}</title>
        <g className="fed-map-links">
          {drawn.map((l) => {
            const a = positions.get(l.a) as Point;
            const b = positions.get(l.b) as Point;
            const health = agents === undefined ? 'unknown' : linkHealth(l, agents);
            return (
              <line key={l.id} x1={a.x} y1={a.y} x2={b.x} y2={b.y} className={`fed-link fed-link-${health}`} data-link={l.id} data-health={health}>
                <title>{`Link ${l.a} ⇄ ${l.b}: ${HEALTH_WORDS[health]}`}</title>
              </line>
            );
          })}
        </g>
        <g className="fed-map-sites">
          {sites.map((s) => {
            const p = positions.get(s.id) as Point;
            const r = rolloutOf.get(s.id);
            const agent = agentOf.get(s.id);
            const state = r?.state ?? 'never-seen';
            const online = agent?.online === true;
            return (
              <g
                key={s.id}
                transform={`translate(${p.x} ${p.y})`}
                className={`fed-site fed-rollout-${ROLLOUT_TONE[state]} ${online ? 'fed-agent-online' : 'fed-agent-offline'}`}
                data-site={s.id}
                data-rollout={rollout === undefined ? 'unavailable' : state}
                data-agent={agents === undefined ? 'unavailable' : online ? 'online' : 'offline'}
                role="link"
                tabIndex={0}
                aria-label={`${s.name}: configuration ${state}${r !== undefined ? ` (revision ${r.appliedRevision ?? 'none'} of ${r.currentRevision})` : ''}, agent ${online ? 'online' : 'offline'}`}
                onClick={() => navigate(`/sites/${encodeURIComponent(s.id)}`)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') navigate(`/sites/${encodeURIComponent(s.id)}`);
                }}
              >
                <circle r={nodeRadius} />
                <text className="fed-site-id" y={nodeRadius + 15} textAnchor="middle">
                  {s.id}
                  {s.id === hubSiteId ? ' (hub)' : ''}
                </text>
                <text className="fed-site-state" y={nodeRadius + 29} textAnchor="middle">
                  {rollout === undefined ? '' : state === 'in-sync' ? `revision ${r?.appliedRevision ?? 0}` : r !== undefined && state !== 'never-seen' ? `${state} ${r.appliedRevision ?? '–'}/${r.currentRevision}` : state}
                </text>
              </g>
            );
          })}
        </g>
      </svg>
      <figcaption className="fed-map-legend">
        <span><i className="swatch fed-link-up" /> link up</span>
        <span><i className="swatch fed-link-down" /> link down</span>
        <span><i className="swatch fed-link-unknown" /> not reported</span>
        <span><i className="dot fed-rollout-ok" /> configuration applied</span>
        <span><i className="dot fed-rollout-warn" /> rolling out</span>
        <span><i className="dot fed-rollout-bad" /> refused or failed</span>
        <span><i className="dot fed-rollout-unknown" /> agent never seen</span>
        <span>solid ring: agent online · dashed: offline</span>
      </figcaption>
    </figure>
  );
}
