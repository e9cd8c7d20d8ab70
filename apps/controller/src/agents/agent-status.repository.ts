import { Injectable } from '@nestjs/common';
import type { AgentStatus } from '@fedpbx/contracts';
import type { EntityManager } from 'typeorm';

/** The agent heartbeats every 10 s; it is online while a heartbeat is younger than three intervals. */
export const HEARTBEAT_INTERVAL_SEC = 10;
export const ONLINE_WITHIN_MS = 3 * HEARTBEAT_INTERVAL_SEC * 1000;

type Ts = Date | string;
const iso = (v: Ts): string => new Date(v).toISOString();
const ms = (v: Ts): number => new Date(v).getTime();

interface SiteRow {
  id: string;
  at: Ts | null;
  received_at: Ts | null;
  agent_version: string | null;
  applied_revision: number | null;
  uptime_sec: number | null;
  agi_sessions_active: number | null;
  ami_connected: boolean | null;
  alarms: AgentStatus['alarms'] | null;
}
interface LinkRow {
  site_id: string;
  peer_site_id: string;
  at: Ts;
  state: AgentStatus['links'][number]['state'];
  source: AgentStatus['links'][number]['source'];
  rtt_ms: number | null;
  wireguard_handshake_age_sec: number | null;
}
interface TrunkRow {
  site_id: string;
  trunk_id: string;
  at: Ts;
  state: AgentStatus['trunks'][number]['state'];
  registration: string | null;
}

/**
 * Agent status as the API shows it, for existing sites only (a site whose agent never reported is listed
 * offline with nulls). Online needs both clocks to agree: the heartbeat's own `at` (a stale heartbeat drained
 * from a backlog does not count) and when the controller received it (an agent with a fast clock that died
 * still goes offline).
 */
@Injectable()
export class AgentStatusRepository {
  async list(m: EntityManager, sites: readonly string[] | 'all', now: Date): Promise<Omit<AgentStatus, 'warnings'>[]> {
    const filter = sites === 'all' ? null : [...sites];
    const [rows, links, trunks]: [SiteRow[], LinkRow[], TrunkRow[]] = await Promise.all([
      m.query(
        `SELECT s.id, a.at, a.received_at, a.agent_version, a.applied_revision, a.uptime_sec, a.agi_sessions_active, a.ami_connected, a.alarms
           FROM sites s LEFT JOIN agent_status a ON a.site_id = s.id
          WHERE $1::text[] IS NULL OR s.id = ANY($1::text[]) ORDER BY s.id`,
        [filter],
      ),
      m.query(`SELECT * FROM agent_link_status WHERE $1::text[] IS NULL OR site_id = ANY($1::text[]) ORDER BY site_id, peer_site_id`, [filter]),
      m.query(`SELECT * FROM agent_trunk_status WHERE $1::text[] IS NULL OR site_id = ANY($1::text[]) ORDER BY site_id, trunk_id`, [filter]),
    ]);
    const linksBySite = groupBy(links);
    const trunksBySite = groupBy(trunks);
    return rows.map((r) => ({
      siteId: r.id,
      online: r.at !== null && r.received_at !== null && now.getTime() - ms(r.at) <= ONLINE_WITHIN_MS && now.getTime() - ms(r.received_at) <= ONLINE_WITHIN_MS,
      lastSeenAt: r.at === null ? null : iso(r.at),
      agentVersion: r.agent_version,
      appliedRevision: r.applied_revision,
      uptimeSec: r.uptime_sec,
      agiSessionsActive: r.agi_sessions_active,
      amiConnected: r.ami_connected,
      alarms: r.alarms ?? [],
      links: (linksBySite.get(r.id) ?? []).map((l) => ({
        peerSiteId: l.peer_site_id,
        state: l.state,
        source: l.source,
        ...(l.rtt_ms !== null ? { rttMs: l.rtt_ms } : {}),
        ...(l.wireguard_handshake_age_sec !== null ? { wireguardHandshakeAgeSec: l.wireguard_handshake_age_sec } : {}),
        at: iso(l.at),
      })),
      trunks: (trunksBySite.get(r.id) ?? []).map((t) => ({ trunkId: t.trunk_id, state: t.state, ...(t.registration !== null ? { registration: t.registration } : {}), at: iso(t.at) })),
    }));
  }
}

function groupBy<R extends { site_id: string }>(rows: readonly R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const list = out.get(r.site_id);
    if (list === undefined) out.set(r.site_id, [r]);
    else list.push(r);
  }
  return out;
}
