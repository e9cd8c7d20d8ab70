import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { CdrRow, EventBatch, HeartbeatRow, LinkRow, TrunkRow } from './event-batch.js';

/**
 * Multi-row writes of one ingest batch, each one statement whatever the batch size: rows travel as one jsonb
 * array and `jsonb_to_recordset` unpacks them in the server (no parameter-count limit, one round trip).
 * CDRs insert with ON CONFLICT DO NOTHING on (site_id, cdr_id), so a redelivered or re-published record is
 * stored once. Status rows upsert only when the incoming `at` is newer than the stored one.
 */
@Injectable()
export class EventStore {
  /** Which of these site ids exist (events of other sites are dropped). */
  async knownSites(m: EntityManager, siteIds: readonly string[]): Promise<Set<string>> {
    if (siteIds.length === 0) return new Set();
    const rows: { id: string }[] = await m.query(`SELECT id FROM sites WHERE id = ANY($1::text[])`, [siteIds]);
    return new Set(rows.map((r) => r.id));
  }

  /** Writes the batch's rows; returns how many CDRs were new (the rest were already stored). */
  async write(m: EntityManager, batch: EventBatch): Promise<{ cdrsInserted: number }> {
    const cdrsInserted = await this.insertCdrs(m, batch.cdrs);
    await this.upsertHeartbeats(m, batch.heartbeats);
    await this.upsertLinks(m, batch.links);
    await this.upsertTrunks(m, batch.trunks);
    return { cdrsInserted };
  }

  /**
   * A batch of CDRs alone, in ONE statement that commits on its own (no BEGIN/COMMIT round trips): the rows of
   * known sites are inserted, and the statement says which sites were known. Atomic as a transaction is, so the
   * caller acknowledges after it returns exactly as after a commit.
   */
  async insertCdrsOfKnownSites(m: EntityManager, rows: readonly CdrRow[]): Promise<{ known: Set<string>; cdrsInserted: number }> {
    const siteIds = [...new Set(rows.map((r) => r.site_id))];
    const result: { known: string[]; inserted: string }[] = await m.query(
      `WITH known AS (SELECT id FROM sites WHERE id = ANY($2::text[])),
       ins AS (${INSERT_CDRS} WHERE r.site_id IN (SELECT id FROM known) ${ON_CONFLICT_CDRS})
       SELECT ARRAY(SELECT id FROM known) AS known, (SELECT count(*) FROM ins) AS inserted`,
      [JSON.stringify(rows), siteIds],
    );
    return { known: new Set(result[0]?.known ?? []), cdrsInserted: Number(result[0]?.inserted ?? 0) };
  }

  private async insertCdrs(m: EntityManager, rows: readonly CdrRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const result: { inserted: string }[] = await m.query(`WITH ins AS (${INSERT_CDRS} ${ON_CONFLICT_CDRS}) SELECT count(*) AS inserted FROM ins`, [
      JSON.stringify(rows),
    ]);
    return Number(result[0]?.inserted ?? 0);
  }

  private async upsertHeartbeats(m: EntityManager, rows: readonly HeartbeatRow[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO agent_status AS s (site_id, at, received_at, agent_version, applied_revision, uptime_sec, agi_sessions_active, ami_connected, alarms)
       SELECT site_id, at, now(), agent_version, applied_revision, uptime_sec, agi_sessions_active, ami_connected, alarms
       FROM jsonb_to_recordset($1::jsonb) AS r(site_id text, at timestamptz, agent_version text, applied_revision integer,
            uptime_sec double precision, agi_sessions_active integer, ami_connected boolean, alarms jsonb)
       ON CONFLICT (site_id) DO UPDATE SET at = EXCLUDED.at, received_at = EXCLUDED.received_at, agent_version = EXCLUDED.agent_version,
         applied_revision = EXCLUDED.applied_revision, uptime_sec = EXCLUDED.uptime_sec,
         agi_sessions_active = EXCLUDED.agi_sessions_active, ami_connected = EXCLUDED.ami_connected,
         alarms = EXCLUDED.alarms
       WHERE s.at < EXCLUDED.at`,
      [JSON.stringify(rows)],
    );
  }

  private async upsertLinks(m: EntityManager, rows: readonly LinkRow[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO agent_link_status AS s (site_id, peer_site_id, at, state, source, rtt_ms, wireguard_handshake_age_sec)
       SELECT site_id, peer_site_id, at, state, source, rtt_ms, wireguard_handshake_age_sec
       FROM jsonb_to_recordset($1::jsonb) AS r(site_id text, peer_site_id text, at timestamptz, state text, source text,
            rtt_ms double precision, wireguard_handshake_age_sec double precision)
       ON CONFLICT (site_id, peer_site_id) DO UPDATE SET at = EXCLUDED.at, state = EXCLUDED.state, source = EXCLUDED.source,
         rtt_ms = EXCLUDED.rtt_ms, wireguard_handshake_age_sec = EXCLUDED.wireguard_handshake_age_sec
       WHERE s.at < EXCLUDED.at`,
      [JSON.stringify(rows)],
    );
  }

  private async upsertTrunks(m: EntityManager, rows: readonly TrunkRow[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO agent_trunk_status AS s (site_id, trunk_id, at, state, registration)
       SELECT site_id, trunk_id, at, state, registration
       FROM jsonb_to_recordset($1::jsonb) AS r(site_id text, trunk_id text, at timestamptz, state text, registration text)
       ON CONFLICT (site_id, trunk_id) DO UPDATE SET at = EXCLUDED.at, state = EXCLUDED.state, registration = EXCLUDED.registration
       WHERE s.at < EXCLUDED.at`,
      [JSON.stringify(rows)],
    );
  }
}

/** CDR rows from the jsonb array $1, as `r` (a WHERE on r may follow). */
const INSERT_CDRS = `INSERT INTO cdrs (site_id, cdr_id, event_id, unique_id, linked_id, start_at, answer_at, end_at, duration_sec, bill_sec,
                   src, dst, disposition, route_kind, target_site_id, trunk_id, origin_site_id, call_id, snapshot_revision, recording_file)
  SELECT site_id, cdr_id, event_id, unique_id, linked_id,
         date_trunc('milliseconds', start_at), date_trunc('milliseconds', answer_at), date_trunc('milliseconds', end_at), duration_sec, bill_sec,
         src, dst, disposition, route_kind, target_site_id, trunk_id, origin_site_id, call_id, snapshot_revision, recording_file
  FROM jsonb_to_recordset($1::jsonb) AS r(site_id text, cdr_id text, event_id text, unique_id text, linked_id text,
       start_at timestamptz, answer_at timestamptz, end_at timestamptz, duration_sec integer, bill_sec integer,
       src text, dst text, disposition text, route_kind text, target_site_id text, trunk_id text,
       origin_site_id text, call_id text, snapshot_revision integer, recording_file text)`;
/** A CDR already stored (a redelivery, a re-publish) is stored once. */
const ON_CONFLICT_CDRS = 'ON CONFLICT (site_id, cdr_id) DO NOTHING RETURNING 1';
