import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditEntryEntity } from '../database/entities/index.js';
import type { Scope } from '../access/scope.js';
import { maskSecrets } from './secret-mask.js';

export interface AuditRecord {
  readonly actor: string;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly siteIds: readonly string[];
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface AuditEntry extends AuditRecord {
  readonly id: string;
  readonly at: string;
}

@Injectable()
export class AuditRepository {
  /** Appends entries; secrets are masked here, whatever the caller passed. */
  async append(m: EntityManager, records: readonly AuditRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 1000) {
      await m.insert(
        AuditEntryEntity,
        records.slice(i, i + 1000).map((r) =>
          Object.assign(new AuditEntryEntity(), {
            actor: r.actor,
            action: r.action,
            objectType: r.objectType,
            objectId: r.objectId,
            siteIds: [...r.siteIds],
            before: r.before === undefined ? null : (maskSecrets(r.before) as object),
            after: r.after === undefined ? null : (maskSecrets(r.after) as object),
          }),
        ),
      );
    }
  }

  /** Newest first. Callers without head office see entries of their sites only. */
  async list(m: EntityManager, scope: Scope, limit: number, before: string | undefined): Promise<AuditEntry[]> {
    const qb = m.getRepository(AuditEntryEntity).createQueryBuilder('a');
    const sites = scope.readableSites();
    if (sites !== 'all') {
      if (sites.length === 0) return [];
      qb.where('a.site_ids ?| :sites', { sites: [...sites] });
    }
    if (before !== undefined) qb.andWhere('a.id < :before', { before });
    const rows = await qb.orderBy('a.id', 'DESC').limit(limit).getMany();
    return rows.map((e) => ({
      id: String(e.id),
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      objectType: e.objectType,
      objectId: e.objectId,
      siteIds: e.siteIds,
      before: e.before ?? undefined,
      after: e.after ?? undefined,
    }));
  }
}
