import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SiteRevisionEntity } from '../database/entities/index.js';
import type { SiteOwnedConfig } from '../federation/site-owned-config.js';

export interface SiteHead {
  readonly revision: number;
  readonly contentHash: string;
}

export interface RevisionSummary {
  readonly siteId: string;
  readonly revision: number;
  readonly contentHash: string;
  readonly reason: string;
  readonly actor: string;
  readonly createdAt: string;
}

export interface RevisionRecord extends RevisionSummary {
  readonly owned: SiteOwnedConfig;
}

/** A revision to write: `owned` null when the site's own objects are those of its previous revision. */
export interface NewRevision extends Omit<RevisionRecord, 'owned' | 'createdAt'> {
  readonly owned: SiteOwnedConfig | null;
}

const summary = (e: SiteRevisionEntity): RevisionSummary => ({
  siteId: e.siteId,
  revision: e.revision,
  contentHash: e.contentHash,
  reason: e.reason,
  actor: e.actor,
  createdAt: e.createdAt.toISOString(),
});

@Injectable()
export class RevisionRepository {
  /** The latest revision of every site. */
  async heads(m: EntityManager): Promise<Map<string, SiteHead>> {
    const rows: { site_id: string; revision: number; content_hash: string }[] = await m.query(
      `SELECT DISTINCT ON (site_id) site_id, revision, content_hash FROM site_config_revisions ORDER BY site_id, revision DESC`,
    );
    return new Map(rows.map((r) => [r.site_id, { revision: Number(r.revision), contentHash: r.content_hash }]));
  }

  /** The highest revision ever written for a site (0 when none), deleted sites included. */
  async lastRevision(m: EntityManager, siteId: string): Promise<number> {
    const rows: { last: number | null }[] = await m.query(`SELECT max(revision) AS last FROM site_config_revisions WHERE site_id = $1`, [siteId]);
    return Number(rows[0]?.last ?? 0);
  }

  /**
   * One statement for all of a write's revisions (a change to the numbering plan gives every site one: 1,000 rows
   * at 1,000 sites, which TypeORM's insert builder turned into parameter lists at some 3% of the controller's CPU in bench:sync's profile).
   */
  async insert(m: EntityManager, rows: readonly NewRevision[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO site_config_revisions (site_id, revision, content_hash, owned, reason, actor)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::text[])`,
      [
        rows.map((r) => r.siteId),
        rows.map((r) => r.revision),
        rows.map((r) => r.contentHash),
        rows.map((r) => (r.owned === null ? null : JSON.stringify(r.owned))),
        rows.map((r) => r.reason),
        rows.map((r) => r.actor),
      ],
    );
  }

  async list(m: EntityManager, siteId: string, limit: number, before: number | undefined): Promise<RevisionSummary[]> {
    const qb = m.getRepository(SiteRevisionEntity).createQueryBuilder('r').select(['r.siteId', 'r.revision', 'r.contentHash', 'r.reason', 'r.actor', 'r.createdAt']).where('r.site_id = :siteId', { siteId });
    if (before !== undefined) qb.andWhere('r.revision < :before', { before });
    return (await qb.orderBy('r.revision', 'DESC').limit(limit).getMany()).map(summary);
  }

  /** A revision with the site's own objects as of it (from the nearest earlier revision that recorded them). */
  async get(m: EntityManager, siteId: string, revision: number): Promise<RevisionRecord | undefined> {
    const e = await m.findOneBy(SiteRevisionEntity, { siteId, revision });
    if (e === null) return undefined;
    let owned = e.owned;
    if (owned === null) {
      const rows: { owned: object }[] = await m.query(
        `SELECT owned FROM site_config_revisions WHERE site_id = $1 AND revision < $2 AND owned IS NOT NULL ORDER BY revision DESC LIMIT 1`,
        [siteId, revision],
      );
      owned = rows[0]?.owned ?? null;
      if (owned === null) throw new Error(`revision ${revision} of site ${siteId} has no recorded objects before it`);
    }
    return { ...summary(e), owned: owned as unknown as SiteOwnedConfig };
  }
}
