import type { AgentAlarm, AgentEventEnvelope } from '@fedpbx/contracts';

/** Rows ready for the ingest's multi-row statements (column names as in the tables; times as ISO 8601 text). */
export interface CdrRow {
  site_id: string;
  cdr_id: string;
  event_id: string;
  unique_id: string;
  linked_id: string;
  start_at: string;
  answer_at: string | null;
  end_at: string;
  duration_sec: number;
  bill_sec: number;
  src: string;
  dst: string;
  disposition: string;
  route_kind: string | null;
  target_site_id: string | null;
  trunk_id: string | null;
  origin_site_id: string | null;
  call_id: string;
  snapshot_revision: number | null;
  recording_file: string | null;
}

export interface HeartbeatRow {
  site_id: string;
  at: string;
  agent_version: string;
  applied_revision: number;
  uptime_sec: number;
  agi_sessions_active: number;
  ami_connected: boolean;
  alarms: readonly AgentAlarm[];
}

export interface LinkRow {
  site_id: string;
  peer_site_id: string;
  at: string;
  state: string;
  source: string;
  rtt_ms: number | null;
  wireguard_handshake_age_sec: number | null;
}

export interface TrunkRow {
  site_id: string;
  trunk_id: string;
  at: string;
  state: string;
  registration: string | null;
}

export interface SnapshotOutcome {
  readonly siteId: string;
  readonly revision: number;
  readonly at: Date;
  /** Absent when applied; the agent's reason when refused. */
  readonly refusedReason?: string;
}

/** The agent's report on the Asterisk include files of a revision: written, or why not (`failure`). */
export interface ConfigOutcome {
  readonly siteId: string;
  readonly revision: number;
  readonly at: Date;
  readonly failure?: { readonly kind: 'render' | 'write'; readonly code: string; readonly object: string; readonly field: string; readonly reason: string };
}

/** One batch of accepted events, grouped by table. Status rows are already reduced to the newest per key. */
export interface EventBatch {
  readonly cdrs: CdrRow[];
  readonly heartbeats: HeartbeatRow[];
  readonly links: LinkRow[];
  readonly trunks: TrunkRow[];
  /** In the order the agents produced them (`at`), so a rollout record sees them in sequence. */
  readonly snapshots: SnapshotOutcome[];
  /** Include-file outcomes, newest per site. */
  readonly configs: ConfigOutcome[];
}

const iso = (at: string): string => new Date(at).toISOString();

/**
 * Groups envelopes by table. Several status events for the same key in one batch keep only the newest (one
 * upsert statement cannot touch a row twice); the database then keeps whichever of that and the stored row is
 * newer. Status times are normalised to millisecond UTC text so they compare as strings; CDR times go as the
 * agent sent them (the insert truncates them to milliseconds, the precision the API pages on).
 */
export function groupEvents(envelopes: readonly AgentEventEnvelope[]): EventBatch {
  const cdrs: CdrRow[] = [];
  const heartbeats = new Map<string, HeartbeatRow>();
  const links = new Map<string, LinkRow>();
  const trunks = new Map<string, TrunkRow>();
  const snapshots: SnapshotOutcome[] = [];
  const configs = new Map<string, ConfigOutcome>();
  const newestConfig = (c: ConfigOutcome): void => {
    const held = configs.get(c.siteId);
    if (held === undefined || held.at.getTime() < c.at.getTime() || (held.at.getTime() === c.at.getTime() && held.revision < c.revision)) configs.set(c.siteId, c);
  };
  const newest = <R extends { at: string }>(into: Map<string, R>, key: string, row: R): void => {
    const held = into.get(key);
    if (held === undefined || held.at < row.at) into.set(key, row);
  };
  for (const { id, siteId, at: rawAt, event: e } of envelopes) {
    const at = iso(rawAt);
    switch (e.type) {
      case 'cdr':
        cdrs.push({
          site_id: siteId,
          cdr_id: e.cdrId,
          event_id: id,
          unique_id: e.uniqueId,
          linked_id: e.linkedId,
          start_at: e.start,
          answer_at: e.answer ?? null,
          end_at: e.end,
          duration_sec: e.durationSec,
          bill_sec: e.billSec,
          src: e.src,
          dst: e.dst,
          disposition: e.disposition,
          route_kind: e.routeKind ?? null,
          target_site_id: e.targetSiteId ?? null,
          trunk_id: e.trunkId ?? null,
          origin_site_id: e.originSiteId ?? null,
          // An agent that sent no call id (or a call that started here): the call is this site's linkedid.
          call_id: e.callId ?? `${siteId}/${e.linkedId}`,
          snapshot_revision: e.snapshotRevision ?? null,
          recording_file: e.recordingFile ?? null,
        });
        break;
      case 'heartbeat':
        newest(heartbeats, siteId, {
          site_id: siteId,
          at,
          agent_version: e.agentVersion,
          applied_revision: e.appliedRevision,
          uptime_sec: e.uptimeSec,
          agi_sessions_active: e.agiSessionsActive,
          ami_connected: e.amiConnected,
          alarms: e.alarms ?? [],
        });
        break;
      case 'link.status':
        newest(links, `${siteId}\u0000${e.peerSiteId}`, {
          site_id: siteId,
          peer_site_id: e.peerSiteId,
          at,
          state: e.state,
          source: e.source,
          rtt_ms: e.rttMs ?? null,
          wireguard_handshake_age_sec: e.wireguardHandshakeAgeSec ?? null,
        });
        break;
      case 'trunk.status':
        newest(trunks, `${siteId}\u0000${e.trunkId}`, { site_id: siteId, trunk_id: e.trunkId, at, state: e.state, registration: e.registration ?? null });
        break;
      case 'snapshot.applied':
        snapshots.push({ siteId, revision: e.revision, at: new Date(at) });
        break;
      case 'snapshot.refused':
        snapshots.push({ siteId, revision: e.revision, at: new Date(at), refusedReason: e.reason });
        break;
      case 'config.written':
        newestConfig({ siteId, revision: e.revision, at: new Date(at) });
        break;
      case 'config.failed':
        newestConfig({ siteId, revision: e.revision, at: new Date(at), failure: { kind: e.kind, code: e.code, object: e.object, field: e.field, reason: e.reason } });
        break;
    }
  }
  // Rows in key order, table by table: controller replicas storing overlapping batches at once (a redelivery, a
  // site's events spread over both) then lock the same rows in the same order and wait for each other instead of
  // deadlocking. A site's outcomes stay in time order.
  const byKey = <R>(key: (r: R) => string) => (a: R, b: R): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  cdrs.sort(byKey((r) => `${r.site_id}\u0000${r.cdr_id}`));
  snapshots.sort((a, b) => byKey<SnapshotOutcome>((r) => r.siteId)(a, b) || a.at.getTime() - b.at.getTime());
  const sorted = <R>(rows: Map<string, R>): R[] => [...rows.entries()].sort(byKey(([k]) => k)).map(([, r]) => r);
  return { cdrs, heartbeats: sorted(heartbeats), links: sorted(links), trunks: sorted(trunks), snapshots, configs: sorted(configs) };
}
