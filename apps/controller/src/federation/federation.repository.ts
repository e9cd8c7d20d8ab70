import { Injectable } from '@nestjs/common';
import type { Federation } from '@fedpbx/contracts';
import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import {
  CallFlowEntity,
  ClassOfServiceEntity,
  ExtensionEntity,
  FederationStateEntity,
  InboundRouteEntity,
  LinkEntity,
  NumberRangeEntity,
  OutboundRouteEntity,
  OutboundRouteTrunkEntity,
  SiteEntity,
  TrunkEntity,
} from '../database/entities/index.js';
import { COLLECTIONS, type CollectionName, type FederationChange } from './federation-change.js';
import {
  callFlowMapper,
  classOfServiceMapper,
  extensionMapper,
  inboundRouteMapper,
  linkMapper,
  numberRangeMapper,
  outboundRouteMapper,
  siteMapper,
  trunkMapper,
} from './federation-mappers.js';

export interface FederationState {
  readonly version: number;
  readonly hubSiteId: string | undefined;
}

const ENTITY_OF: Record<CollectionName, EntityTarget<ObjectLiteral>> = {
  sites: SiteEntity,
  classesOfService: ClassOfServiceEntity,
  numberRanges: NumberRangeEntity,
  trunks: TrunkEntity,
  extensions: ExtensionEntity,
  links: LinkEntity,
  outboundRoutes: OutboundRouteEntity,
  inboundRoutes: InboundRouteEntity,
  callFlows: CallFlowEntity,
};

const CHUNK = 1000;

/** Reads and writes the whole federation. Knows SQL and entities; knows nothing of rights or validation. */
@Injectable()
export class FederationRepository {
  /** Locks the federation for this transaction (one writer at a time, across processes) and reads its state. */
  async lockState(m: EntityManager): Promise<FederationState> {
    const row = await m.getRepository(FederationStateEntity).createQueryBuilder('s').setLock('pessimistic_write').where('s.id = 1').getOneOrFail();
    return { version: Number(row.version), hubSiteId: row.hubSiteId ?? undefined };
  }

  async readState(m: EntityManager): Promise<FederationState> {
    const row = await m.getRepository(FederationStateEntity).findOneByOrFail({ id: 1 });
    return { version: Number(row.version), hubSiteId: row.hubSiteId ?? undefined };
  }

  async load(m: EntityManager, state: FederationState): Promise<Federation> {
    // One after another: inside a transaction every query shares one connection.
    const sites = await m.find(SiteEntity, { order: { id: 'ASC' } });
    const ranges = await m.find(NumberRangeEntity, { order: { id: 'ASC' } });
    const extensions = await m.find(ExtensionEntity, { order: { id: 'ASC' } });
    const trunks = await m.find(TrunkEntity, { order: { id: 'ASC' } });
    const links = await m.find(LinkEntity, { order: { id: 'ASC' } });
    const routes = await m.find(OutboundRouteEntity, { order: { id: 'ASC' } });
    const routeTrunks = await m.find(OutboundRouteTrunkEntity);
    const inbound = await m.find(InboundRouteEntity, { order: { id: 'ASC' } });
    const flows = await m.find(CallFlowEntity, { order: { id: 'ASC' } });
    const cos = await m.find(ClassOfServiceEntity, { order: { id: 'ASC' } });
    const trunksByRoute = new Map<string, OutboundRouteTrunkEntity[]>();
    for (const t of routeTrunks) {
      const list = trunksByRoute.get(t.routeId);
      if (list === undefined) trunksByRoute.set(t.routeId, [t]);
      else list.push(t);
    }
    return {
      sites: sites.map(siteMapper.toDomain),
      numberRanges: ranges.map(numberRangeMapper.toDomain),
      extensions: extensions.map(extensionMapper.toDomain),
      trunks: trunks.map(trunkMapper.toDomain),
      links: links.map(linkMapper.toDomain),
      outboundRoutes: routes.map((r) => outboundRouteMapper.toDomain(r, trunksByRoute.get(r.id) ?? [])),
      inboundRoutes: inbound.map(inboundRouteMapper.toDomain),
      callFlows: flows.map(callFlowMapper.toDomain),
      classesOfService: cos.map(classOfServiceMapper.toDomain),
      ...(state.hubSiteId !== undefined ? { hubSiteId: state.hubSiteId } : {}),
    };
  }

  /**
   * Writes the changes and bumps the federation version. Upserts go in dependency order (sites before what
   * lives at them), deletes in reverse, so foreign keys hold at every statement.
   */
  async persist(m: EntityManager, changes: readonly FederationChange[], state: FederationState): Promise<FederationState> {
    let hubSiteId = state.hubSiteId;
    for (const collection of COLLECTIONS) {
      const upserts = changes.filter((c) => c.collection === collection && c.op === 'upsert');
      for (let i = 0; i < upserts.length; i += CHUNK) await this.upsert(m, collection, upserts.slice(i, i + CHUNK));
    }
    const hub = changes.filter((c) => c.collection === 'hub');
    for (const c of hub) hubSiteId = c.hubSiteId;
    for (const collection of [...COLLECTIONS].reverse()) {
      const ids = changes.flatMap((c) => (c.collection === collection && c.op === 'delete' ? [c.id] : []));
      for (let i = 0; i < ids.length; i += CHUNK) {
        await m.createQueryBuilder().delete().from(ENTITY_OF[collection]).whereInIds(ids.slice(i, i + CHUNK)).execute();
      }
    }
    const next = { version: state.version + 1, hubSiteId };
    await m.update(FederationStateEntity, { id: 1 }, { version: String(next.version), hubSiteId: hubSiteId ?? null });
    return next;
  }

  private async upsert(m: EntityManager, collection: CollectionName, changes: readonly FederationChange[]): Promise<void> {
    const values = changes.flatMap((c) => (c.collection !== 'hub' && c.op === 'upsert' ? [c.value] : []));
    if (values.length === 0) return;
    const rows = values.map((v) => toEntity(collection, v));
    await m.upsert(ENTITY_OF[collection], rows, { conflictPaths: ['id'], skipUpdateIfNoValuesChanged: false });
    if (collection === 'outboundRoutes') {
      const routes = values as Federation['outboundRoutes'];
      await m.createQueryBuilder().delete().from(OutboundRouteTrunkEntity).where('route_id IN (:...ids)', { ids: routes.map((r) => r.id) }).execute();
      await m.insert(OutboundRouteTrunkEntity, routes.flatMap(outboundRouteMapper.trunksToEntities));
    }
  }
}

function toEntity(collection: CollectionName, value: unknown): ObjectLiteral {
  switch (collection) {
    case 'sites':
      return siteMapper.toEntity(value as Federation['sites'][number]);
    case 'classesOfService':
      return classOfServiceMapper.toEntity(value as Federation['classesOfService'][number]);
    case 'numberRanges':
      return numberRangeMapper.toEntity(value as Federation['numberRanges'][number]);
    case 'trunks':
      return trunkMapper.toEntity(value as Federation['trunks'][number]);
    case 'extensions':
      return extensionMapper.toEntity(value as Federation['extensions'][number]);
    case 'links':
      return linkMapper.toEntity(value as Federation['links'][number]);
    case 'outboundRoutes':
      return outboundRouteMapper.toEntity(value as Federation['outboundRoutes'][number]);
    case 'inboundRoutes':
      return inboundRouteMapper.toEntity(value as Federation['inboundRoutes'][number]);
    case 'callFlows':
      return callFlowMapper.toEntity(value as Federation['callFlows'][number]);
  }
}
