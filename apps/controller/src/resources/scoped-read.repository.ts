import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityTarget, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import type { Scope } from '../access/scope.js';
import {
  CallFlowEntity,
  ClassOfServiceEntity,
  ExtensionEntity,
  InboundRouteEntity,
  LinkEntity,
  NumberRangeEntity,
  OutboundRouteEntity,
  OutboundRouteTrunkEntity,
  SiteEntity,
  TrunkEntity,
} from '../database/entities/index.js';
import type { CollectionName, ObjectOf } from '../federation/federation-change.js';
import {
  callFlowMapper,
  classOfServiceMapper,
  extensionMapper,
  inboundRouteMapper,
  linkMapper,
  numberRangeMapper,
  siteMapper,
  trunkMapper,
  outboundRouteMapper,
} from '../federation/federation-mappers.js';

/** How rows of a collection belong to sites, for scoping queries. */
type SiteColumns = { kind: 'id' } | { kind: 'site' } | { kind: 'link' } | { kind: 'route' } | { kind: 'none' };

interface Table {
  readonly entity: EntityTarget<ObjectLiteral>;
  readonly sites: SiteColumns;
  readonly toDomain: (e: never) => unknown;
}

const TABLES: Record<CollectionName, Table> = {
  sites: { entity: SiteEntity, sites: { kind: 'id' }, toDomain: siteMapper.toDomain },
  numberRanges: { entity: NumberRangeEntity, sites: { kind: 'site' }, toDomain: numberRangeMapper.toDomain },
  extensions: { entity: ExtensionEntity, sites: { kind: 'site' }, toDomain: extensionMapper.toDomain },
  trunks: { entity: TrunkEntity, sites: { kind: 'site' }, toDomain: trunkMapper.toDomain },
  links: { entity: LinkEntity, sites: { kind: 'link' }, toDomain: linkMapper.toDomain },
  outboundRoutes: { entity: OutboundRouteEntity, sites: { kind: 'route' }, toDomain: () => undefined },
  inboundRoutes: { entity: InboundRouteEntity, sites: { kind: 'site' }, toDomain: inboundRouteMapper.toDomain },
  callFlows: { entity: CallFlowEntity, sites: { kind: 'site' }, toDomain: callFlowMapper.toDomain },
  // Classes of service are federation-wide policy every admin picks from: readable by everyone.
  classesOfService: { entity: ClassOfServiceEntity, sites: { kind: 'none' }, toDomain: classOfServiceMapper.toDomain },
};

export interface ListQuery {
  readonly limit: number;
  /** Keyset paging: ids greater than this. */
  readonly after?: string | undefined;
  /** Only objects of this site. */
  readonly siteId?: string | undefined;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

/**
 * Reads of federation objects, always through the caller's scope: a row outside it is never selected, so it
 * does not exist for the caller (404). Keyset paging by id keeps every page an index range scan.
 */
@Injectable()
export class ScopedReadRepository {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async get<C extends CollectionName>(collection: C, scope: Scope, id: string): Promise<ObjectOf<C> | undefined> {
    const qb = this.scoped(collection, scope).andWhere('o.id = :id', { id });
    const [row] = await this.hydrate(collection, await qb.getMany());
    return row;
  }

  async list<C extends CollectionName>(collection: C, scope: Scope, q: ListQuery): Promise<Page<ObjectOf<C>>> {
    const qb = this.scoped(collection, scope);
    if (q.siteId !== undefined) this.restrict(qb, collection, [q.siteId]);
    if (q.after !== undefined) qb.andWhere('o.id > :after', { after: q.after });
    const rows = await qb.orderBy('o.id', 'ASC').limit(q.limit + 1).getMany();
    const items = await this.hydrate(collection, rows.slice(0, q.limit));
    const last = items[items.length - 1];
    return rows.length > q.limit && last !== undefined ? { items, next: last.id } : { items };
  }

  private scoped(collection: CollectionName, scope: Scope): SelectQueryBuilder<ObjectLiteral> {
    const qb = this.ds.getRepository(TABLES[collection].entity).createQueryBuilder('o').where('TRUE');
    const sites = scope.readableSites();
    if (sites !== 'all') this.restrict(qb, collection, sites);
    return qb;
  }

  private restrict(qb: SelectQueryBuilder<ObjectLiteral>, collection: CollectionName, sites: readonly string[]): void {
    const p = `s${Object.keys(qb.getParameters()).length}`;
    const t = TABLES[collection].sites;
    const none = sites.length === 0;
    switch (t.kind) {
      case 'id':
        qb.andWhere(none ? 'FALSE' : `o.id IN (:...${p})`, { [p]: sites });
        break;
      case 'site':
        qb.andWhere(none ? 'FALSE' : `o.site_id IN (:...${p})`, { [p]: sites });
        break;
      case 'link':
        qb.andWhere(none ? 'FALSE' : `(o.site_a IN (:...${p}) OR o.site_b IN (:...${p}))`, { [p]: sites });
        break;
      case 'route':
        // A route with no sites applies to every site.
        qb.andWhere(none ? `o.sites = '[]'::jsonb` : `(o.sites = '[]'::jsonb OR o.sites ?| ARRAY[:...${p}]::text[])`, { [p]: sites });
        break;
      case 'none':
        break;
    }
  }

  private async hydrate<C extends CollectionName>(collection: C, rows: ObjectLiteral[]): Promise<ObjectOf<C>[]> {
    if (collection !== 'outboundRoutes') return rows.map((r) => TABLES[collection].toDomain(r as never) as ObjectOf<C>);
    if (rows.length === 0) return [];
    const trunks = await this.ds
      .getRepository(OutboundRouteTrunkEntity)
      .createQueryBuilder('t')
      .where('t.route_id IN (:...ids)', { ids: rows.map((r) => r['id'] as string) })
      .getMany();
    return rows.map((r) => outboundRouteMapper.toDomain(r as OutboundRouteEntity, trunks.filter((t) => t.routeId === r['id'])) as ObjectOf<C>);
  }
}
