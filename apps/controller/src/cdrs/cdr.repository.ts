import { Injectable } from '@nestjs/common';
import type { CdrQuery, CdrRecord } from '@fedpbx/contracts';
import type { EntityManager } from 'typeorm';
import type { CdrCursor } from './cdr-cursor.js';

interface CdrRowOut {
  site_id: string;
  cdr_id: string;
  unique_id: string;
  linked_id: string;
  start_at: Date | string;
  answer_at: Date | string | null;
  end_at: Date | string;
  duration_sec: number;
  bill_sec: number;
  src: string;
  dst: string;
  disposition: CdrRecord['disposition'];
  route_kind: CdrRecord['routeKind'] | null;
  target_site_id: string | null;
  trunk_id: string | null;
  origin_site_id: string | null;
  call_id: string;
  snapshot_revision: number | null;
  recording_file: string | null;
  received_at: Date | string;
}

/** node-postgres returns Dates, PGlite may return text: either way, ISO text. */
const iso = (v: Date | string): string => new Date(v).toISOString();

/** Entity row -> API shape (optional fields absent rather than null, as the agent sent them). */
function toRecord(r: CdrRowOut): CdrRecord {
  return {
    siteId: r.site_id,
    cdrId: r.cdr_id,
    uniqueId: r.unique_id,
    linkedId: r.linked_id,
    start: iso(r.start_at),
    ...(r.answer_at !== null ? { answer: iso(r.answer_at) } : {}),
    end: iso(r.end_at),
    durationSec: r.duration_sec,
    billSec: r.bill_sec,
    src: r.src,
    dst: r.dst,
    disposition: r.disposition,
    ...(r.route_kind !== null ? { routeKind: r.route_kind } : {}),
    ...(r.target_site_id !== null ? { targetSiteId: r.target_site_id } : {}),
    ...(r.trunk_id !== null ? { trunkId: r.trunk_id } : {}),
    ...(r.origin_site_id !== null ? { originSiteId: r.origin_site_id } : {}),
    callId: r.call_id,
    ...(r.snapshot_revision !== null ? { snapshotRevision: r.snapshot_revision } : {}),
    ...(r.recording_file !== null ? { recordingFile: r.recording_file } : {}),
    receivedAt: iso(r.received_at),
  };
}

export interface CdrSearch {
  readonly filters: Omit<CdrQuery, 'limit' | 'cursor'>;
  /** Only these sites ('all' for head office). */
  readonly sites: readonly string[] | 'all';
  readonly after: CdrCursor | undefined;
  readonly limit: number;
}

@Injectable()
export class CdrRepository {
  /**
   * Newest first by (start, site, CDR id), the `idx_cdrs_newest` order, resuming strictly after `after`
   * (keyset paging: stable while new records arrive, no OFFSET scans).
   */
  async search(m: EntityManager, s: CdrSearch): Promise<CdrRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (s.sites !== 'all') where.push(`site_id = ANY(${p([...s.sites])}::text[])`);
    const f = s.filters;
    if (f.siteId !== undefined) where.push(`site_id = ${p(f.siteId)}`);
    if (f.from !== undefined) where.push(`start_at >= ${p(f.from)}::timestamptz`);
    if (f.to !== undefined) where.push(`start_at < ${p(f.to)}::timestamptz`);
    if (f.src !== undefined) where.push(`src = ${p(f.src)}`);
    if (f.dst !== undefined) where.push(`dst = ${p(f.dst)}`);
    if (f.disposition !== undefined) where.push(`disposition = ${p(f.disposition)}`);
    if (f.routeKind !== undefined) where.push(`route_kind = ${p(f.routeKind)}`);
    if (f.callId !== undefined) where.push(`call_id = ${p(f.callId)}`);
    if (s.after !== undefined) where.push(`(start_at, site_id, cdr_id) < (${p(s.after.start)}::timestamptz, ${p(s.after.siteId)}, ${p(s.after.cdrId)})`);
    const rows: CdrRowOut[] = await m.query(
      `SELECT site_id, cdr_id, unique_id, linked_id, start_at, answer_at, end_at, duration_sec, bill_sec, src, dst, disposition,
              route_kind, target_site_id, trunk_id, origin_site_id, call_id, snapshot_revision, recording_file, received_at
         FROM cdrs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY start_at DESC, site_id DESC, cdr_id DESC
        LIMIT ${p(s.limit)}`,
      params,
    );
    return rows.map(toRecord);
  }

  /**
   * Every leg of one call (`idx_cdrs_call`), oldest first: those at `sites` in full, and how many others there
   * are - a number only, never their content.
   */
  async legsOf(m: EntityManager, callId: string, sites: readonly string[] | 'all'): Promise<{ legs: CdrRecord[]; elsewhere: number }> {
    const rows: (CdrRowOut & { readable: boolean })[] = await m.query(
      `SELECT site_id, cdr_id, unique_id, linked_id, start_at, answer_at, end_at, duration_sec, bill_sec, src, dst, disposition,
              route_kind, target_site_id, trunk_id, origin_site_id, call_id, snapshot_revision, recording_file, received_at,
              ${sites === 'all' ? 'true' : 'site_id = ANY($2::text[])'} AS readable
         FROM cdrs WHERE call_id = $1
        ORDER BY start_at, site_id, cdr_id
        LIMIT 1000`,
      sites === 'all' ? [callId] : [callId, [...sites]],
    );
    const legs = rows.filter((r) => r.readable).map(toRecord);
    return { legs, elsewhere: rows.length - legs.length };
  }
}
