import { Injectable } from '@nestjs/common';
import type { EnrollmentToken, EnrollmentTokenState } from '@fedpbx/contracts';
import type { EntityManager } from 'typeorm';
import { EnrollmentTokenEntity, SiteEntity } from '../database/entities/index.js';

export interface EnrollmentTokenRecord {
  readonly id: string;
  readonly siteId: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
}

const record = (e: EnrollmentTokenEntity): EnrollmentTokenRecord => ({
  id: e.id,
  siteId: e.siteId,
  createdAt: e.createdAt,
  createdBy: e.createdBy,
  expiresAt: e.expiresAt,
  usedAt: e.usedAt,
  revokedAt: e.revokedAt,
  revokedBy: e.revokedBy,
});

/** Where a token stands at `now`: used and revoked are final (and exclusive), expiry only matters before them. */
export function tokenState(t: EnrollmentTokenRecord, now: Date): EnrollmentTokenState {
  if (t.usedAt !== null) return 'used';
  if (t.revokedAt !== null) return 'revoked';
  return t.expiresAt <= now ? 'expired' : 'pending';
}

/** The API's view of a token: never the token or its hash. */
export const tokenView = (t: EnrollmentTokenRecord, now: Date): EnrollmentToken => ({
  id: t.id,
  siteId: t.siteId,
  createdAt: t.createdAt.toISOString(),
  createdBy: t.createdBy,
  expiresAt: t.expiresAt.toISOString(),
  usedAt: t.usedAt?.toISOString() ?? null,
  revokedAt: t.revokedAt?.toISOString() ?? null,
  revokedBy: t.revokedBy,
  state: tokenState(t, now),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An id PostgreSQL can compare with a uuid column (anything else matches no token, without a cast error). */
export const isTokenId = (id: string): boolean => UUID.test(id);

/** Enrollment tokens by the SHA-256 of the token (the token itself is never stored). */
@Injectable()
export class EnrollmentTokenRepository {
  async create(m: EntityManager, siteId: string, tokenHash: string, createdBy: string, expiresAt: Date): Promise<EnrollmentTokenRecord> {
    const e = await m.save(Object.assign(new EnrollmentTokenEntity(), { siteId, tokenHash, createdBy, expiresAt, usedAt: null, revokedAt: null, revokedBy: null }));
    return record(e);
  }

  async byHash(m: EntityManager, tokenHash: string): Promise<EnrollmentTokenRecord | undefined> {
    const e = await m.findOneBy(EnrollmentTokenEntity, { tokenHash });
    return e === null ? undefined : record(e);
  }

  async byId(m: EntityManager, id: string): Promise<EnrollmentTokenRecord | undefined> {
    if (!isTokenId(id)) return undefined;
    const e = await m.findOneBy(EnrollmentTokenEntity, { id });
    return e === null ? undefined : record(e);
  }

  async siteExists(m: EntityManager, siteId: string): Promise<boolean> {
    return m.existsBy(SiteEntity, { id: siteId });
  }

  /**
   * A site's tokens, newest first (ties by id); `before` is the id of the last token of the previous page (an id
   * that is not one of the site's tokens gives an empty page). One more row than `limit` tells whether a next page exists.
   */
  async listBySite(m: EntityManager, siteId: string, limit: number, before: string | undefined): Promise<{ items: EnrollmentTokenRecord[]; more: boolean }> {
    const qb = m.getRepository(EnrollmentTokenEntity).createQueryBuilder('t').where('t.site_id = :siteId', { siteId });
    if (before !== undefined) {
      if (!isTokenId(before)) return { items: [], more: false };
      qb.andWhere('(t.created_at, t.id) < (SELECT b.created_at, b.id FROM enrollment_tokens b WHERE b.id = :before AND b.site_id = :siteId)', { before });
    }
    const rows = await qb.orderBy('t.created_at', 'DESC').addOrderBy('t.id', 'DESC').limit(limit + 1).getMany();
    return { items: rows.slice(0, limit).map(record), more: rows.length > limit };
  }

  /** Marks the token used if it still is unused, unrevoked and unexpired at `at`; false when another request got there first. */
  async consume(m: EntityManager, id: string, at: Date): Promise<boolean> {
    const r = await m
      .createQueryBuilder()
      .update(EnrollmentTokenEntity)
      .set({ usedAt: at })
      .where('id = :id AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :at', { id, at })
      .execute();
    return r.affected === 1;
  }

  /**
   * Revokes the token if it is still unused and unrevoked; false otherwise (used, or revoked already - possibly by
   * a concurrent request: PostgreSQL re-checks the condition on the row a concurrent enrollment or revocation
   * just changed, so a token never ends both used and revoked).
   */
  async revoke(m: EntityManager, id: string, at: Date, by: string): Promise<boolean> {
    const r = await m
      .createQueryBuilder()
      .update(EnrollmentTokenEntity)
      .set({ revokedAt: at, revokedBy: by })
      .where('id = :id AND used_at IS NULL AND revoked_at IS NULL', { id })
      .execute();
    return r.affected === 1;
  }
}
