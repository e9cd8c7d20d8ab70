import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { ConfigOutcome } from '../ingest/event-batch.js';

/** The agent's last report of a failed render or write of the Asterisk include files. */
export interface ConfigFailureRow {
  readonly revision: number;
  readonly kind: 'render' | 'write';
  readonly code: string;
  readonly object: string;
  readonly field: string;
  readonly reason: string;
  readonly at: Date;
}

/** One site's row as the rollout API needs it: its head revision, what was published, what the agent said. */
export interface RolloutRow {
  readonly siteId: string;
  readonly currentRevision: number | null;
  readonly currentHash: string | null;
  readonly publishedRevision: number | null;
  readonly publishedAt: Date | null;
  readonly appliedRevision: number | null;
  readonly appliedAt: Date | null;
  readonly refusedRevision: number | null;
  readonly refusedReason: string | null;
  readonly refusedAt: Date | null;
  /** Creation time of the oldest revision newer than the applied one (null when none is newer). */
  readonly behindSince: Date | null;
  /** The agent's last include-file report was a failure (null when it was a success, or there was none). */
  readonly configFailure: ConfigFailureRow | null;
}

interface RawRow {
  site_id: string;
  current_revision: number | null;
  current_hash: string | null;
  published_revision: number | null;
  published_at: Date | string | null;
  applied_revision: number | null;
  applied_at: Date | string | null;
  refused_revision: number | null;
  refused_reason: string | null;
  refused_at: Date | string | null;
  behind_since: Date | string | null;
  config_revision: number | null;
  config_at: Date | string | null;
  config_failure: { kind: 'render' | 'write'; code: string; object: string; field: string; reason: string } | string | null;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));
const int = (v: number | string | null): number | null => (v === null ? null : Number(v));

/**
 * The `site_rollouts` table: per site, the revision in its KV bucket and the agent's applied / refused reports.
 * Every write is an idempotent upsert that only moves forward (an older report never overwrites a newer one),
 * so redelivered or reordered events are harmless; reports for a site that no longer exists are dropped.
 * Event ingest calls {@link recordApplied} and {@link recordRefused} inside its own transaction.
 */
@Injectable()
export class RolloutRepository {
  /** The agent applied `revision` at `at`. */
  recordApplied(m: EntityManager, siteId: string, revision: number, at: Date): Promise<void> {
    return this.recordAppliedMany(m, [{ siteId, revision, at }]);
  }

  /**
   * Many agents' applied reports in one statement (a change to the numbering plan has every site report at once).
   * Per site the newest report counts; as with recordApplied, only a newer revision moves the row.
   */
  async recordAppliedMany(m: EntityManager, reports: readonly { siteId: string; revision: number; at: Date }[]): Promise<void> {
    const newest = new Map<string, { siteId: string; revision: number; at: Date }>();
    for (const r of reports) {
      const seen = newest.get(r.siteId);
      if (seen === undefined || seen.revision < r.revision || (seen.revision === r.revision && seen.at < r.at)) newest.set(r.siteId, r);
    }
    if (newest.size === 0) return;
    const rows = [...newest.values()];
    await m.query(
      `INSERT INTO site_rollouts (site_id, applied_revision, applied_at)
       SELECT u.site_id, u.revision, u.at
         FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS u(site_id, revision, at)
        WHERE EXISTS (SELECT 1 FROM sites WHERE id = u.site_id)
       ON CONFLICT (site_id) DO UPDATE SET applied_revision = EXCLUDED.applied_revision, applied_at = EXCLUDED.applied_at
       WHERE site_rollouts.applied_revision IS NULL OR site_rollouts.applied_revision < EXCLUDED.applied_revision`,
      [rows.map((r) => r.siteId), rows.map((r) => r.revision), rows.map((r) => r.at.toISOString())],
    );
  }

  /** The agent refused `revision` (bad signature, hash, failed apply...) with `reason`. The latest refusal is kept. */
  async recordRefused(m: EntityManager, siteId: string, revision: number, reason: string, at: Date): Promise<void> {
    await m.query(
      `INSERT INTO site_rollouts (site_id, refused_revision, refused_reason, refused_at)
       SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM sites WHERE id = $1)
       ON CONFLICT (site_id) DO UPDATE SET refused_revision = EXCLUDED.refused_revision, refused_reason = EXCLUDED.refused_reason, refused_at = EXCLUDED.refused_at
       WHERE site_rollouts.refused_revision IS NULL
          OR (site_rollouts.refused_revision, site_rollouts.refused_at) < (EXCLUDED.refused_revision, EXCLUDED.refused_at)`,
      [siteId, revision, reason.slice(0, 2000), at],
    );
  }

  /**
   * The agent's report on the Asterisk include files (written, or failed with the object and reason). The newest
   * report counts (by time, then revision); a written report clears a failure.
   */
  async recordConfig(m: EntityManager, c: ConfigOutcome): Promise<void> {
    await m.query(
      `INSERT INTO site_rollouts (site_id, config_revision, config_at, config_failure)
       SELECT $1, $2, $3, $4::jsonb WHERE EXISTS (SELECT 1 FROM sites WHERE id = $1)
       ON CONFLICT (site_id) DO UPDATE SET config_revision = EXCLUDED.config_revision, config_at = EXCLUDED.config_at, config_failure = EXCLUDED.config_failure
       WHERE site_rollouts.config_at IS NULL
          OR (site_rollouts.config_at, site_rollouts.config_revision) < (EXCLUDED.config_at, EXCLUDED.config_revision)`,
      [c.siteId, c.revision, c.at.toISOString(), c.failure === undefined ? null : JSON.stringify(c.failure)],
    );
  }

  /**
   * The snapshot publisher put these revisions into the sites' KV buckets: one statement for a whole batch (a
   * change to the numbering plan publishes every site at once). At most one row per site.
   */
  async recordPublishedMany(m: EntityManager, rows: readonly { siteId: string; revision: number; contentHash: string; at: Date }[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO site_rollouts (site_id, published_revision, published_hash, published_at)
       SELECT u.site_id, u.revision, u.hash, u.at
         FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[]) AS u(site_id, revision, hash, at)
        WHERE EXISTS (SELECT 1 FROM sites WHERE id = u.site_id)
       ON CONFLICT (site_id) DO UPDATE SET published_revision = EXCLUDED.published_revision, published_hash = EXCLUDED.published_hash, published_at = EXCLUDED.published_at
       WHERE site_rollouts.published_revision IS NULL OR site_rollouts.published_revision < EXCLUDED.published_revision`,
      [rows.map((r) => r.siteId), rows.map((r) => r.revision), rows.map((r) => r.contentHash), rows.map((r) => r.at.toISOString())],
    );
  }

  /** The snapshot publisher put `revision` (hash `contentHash`) into the site's KV bucket. */
  recordPublished(m: EntityManager, siteId: string, revision: number, contentHash: string, at: Date): Promise<void> {
    return this.recordPublishedMany(m, [{ siteId, revision, contentHash, at }]);
  }

  /** Published revision of every site that has one. */
  async publishedRevisions(m: EntityManager): Promise<Map<string, number>> {
    const rows: { site_id: string; published_revision: number }[] = await m.query(
      `SELECT site_id, published_revision FROM site_rollouts WHERE published_revision IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.site_id, Number(r.published_revision)]));
  }

  /** Rollout rows of the given sites (every site for 'all'), ordered by site id. */
  async rows(m: EntityManager, sites: readonly string[] | 'all'): Promise<RolloutRow[]> {
    const raw: RawRow[] = await m.query(
      `SELECT s.id AS site_id, h.revision AS current_revision, h.content_hash AS current_hash,
              o.published_revision, o.published_at, o.applied_revision, o.applied_at,
              o.refused_revision, o.refused_reason, o.refused_at, b.created_at AS behind_since,
              o.config_revision, o.config_at, o.config_failure
         FROM sites s
         LEFT JOIN site_rollouts o ON o.site_id = s.id
         LEFT JOIN LATERAL (SELECT revision, content_hash FROM site_config_revisions r
                             WHERE r.site_id = s.id ORDER BY r.revision DESC LIMIT 1) h ON true
         LEFT JOIN LATERAL (SELECT created_at FROM site_config_revisions r
                             WHERE r.site_id = s.id AND r.revision > COALESCE(o.applied_revision, 0)
                             ORDER BY r.revision LIMIT 1) b ON true
        WHERE $1::text[] IS NULL OR s.id = ANY($1::text[])
        ORDER BY s.id`,
      [sites === 'all' ? null : [...sites]],
    );
    return raw.map((r) => ({
      siteId: r.site_id,
      currentRevision: int(r.current_revision),
      currentHash: r.current_hash,
      publishedRevision: int(r.published_revision),
      publishedAt: date(r.published_at),
      appliedRevision: int(r.applied_revision),
      appliedAt: date(r.applied_at),
      refusedRevision: int(r.refused_revision),
      refusedReason: r.refused_reason,
      refusedAt: date(r.refused_at),
      behindSince: date(r.behind_since),
      configFailure: configFailure(r),
    }));
  }
}

function configFailure(r: RawRow): ConfigFailureRow | null {
  if (r.config_failure === null || r.config_revision === null || r.config_at === null) return null;
  const f = typeof r.config_failure === 'string' ? (JSON.parse(r.config_failure) as Exclude<RawRow['config_failure'], string | null>) : r.config_failure;
  return { revision: Number(r.config_revision), kind: f.kind, code: f.code, object: f.object, field: f.field, reason: f.reason, at: new Date(r.config_at) };
}
