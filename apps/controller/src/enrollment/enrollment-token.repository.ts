import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { EnrollmentTokenEntity } from '../database/entities/index.js';

export interface EnrollmentTokenRecord {
  readonly id: string;
  readonly siteId: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
}

const record = (e: EnrollmentTokenEntity): EnrollmentTokenRecord => ({ id: e.id, siteId: e.siteId, expiresAt: e.expiresAt, usedAt: e.usedAt });

/** Enrollment tokens by the SHA-256 of the token (the token itself is never stored). */
@Injectable()
export class EnrollmentTokenRepository {
  async create(m: EntityManager, siteId: string, tokenHash: string, createdBy: string, expiresAt: Date): Promise<EnrollmentTokenRecord> {
    const e = await m.save(Object.assign(new EnrollmentTokenEntity(), { siteId, tokenHash, createdBy, expiresAt, usedAt: null }));
    return record(e);
  }

  async byHash(m: EntityManager, tokenHash: string): Promise<EnrollmentTokenRecord | undefined> {
    const e = await m.findOneBy(EnrollmentTokenEntity, { tokenHash });
    return e === null ? undefined : record(e);
  }

  /** Marks the token used if it still is unused and unexpired at `at`; false when another request got there first. */
  async consume(m: EntityManager, id: string, at: Date): Promise<boolean> {
    const r = await m
      .createQueryBuilder()
      .update(EnrollmentTokenEntity)
      .set({ usedAt: at })
      .where('id = :id AND used_at IS NULL AND expires_at > :at', { id, at })
      .execute();
    return r.affected === 1;
  }
}
