import 'reflect-metadata';
import { foundingScenario } from '@fedpbx/dialplan';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callFlowMapper, siteMapper } from '../federation/federation-mappers.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../testing/test-database.js';
import { dataSourceOptions } from './data-source-options.js';
import { CallFlowEntity, CallFlowLayoutEntity, SiteEntity, SiteRevisionEntity } from './entities/index.js';

/** The CallFlowLayouts migration moves stored node positions out of the flows (and their revisions) into layouts. */
describe(`CallFlowLayouts migration (${testDatabaseLabel()})`, () => {
  let db: TestDatabase;
  let ds: DataSource;
  const fed = foundingScenario();
  const flow = fed.callFlows[0];
  const positioned = () => flow?.nodes.map((n, i) => ({ ...n, position: { x: i * 10, y: i * 20 } })) ?? [];

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await new DataSource(dataSourceOptions(db.settings)).initialize();
    await ds.runMigrations();
    // The site goes in with today's schema (later migrations may add site columns), then the migrations go back.
    const site = fed.sites.find((s) => s.id === flow?.siteId);
    if (site === undefined) throw new Error('the flow has a site');
    await ds.manager.insert(SiteEntity, siteMapper.toEntity(site));
    await undoThroughLayouts();
  });
  /** Undoes migrations up to and including CallFlowLayouts (later ones, by others, run again with it). */
  const undoThroughLayouts = async (): Promise<void> => {
    for (;;) {
      const [last] = (await ds.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)) as [{ name: string }];
      await ds.undoLastMigration();
      if (/^CallFlowLayouts\d/.test(last.name)) return;
    }
  };
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('moves positions into call_flow_layouts and out of flows and revisions, and back on the way down', async () => {
    if (flow === undefined) throw new Error('the founding scenario has a call flow');
    const site = fed.sites.find((s) => s.id === flow.siteId);
    if (site === undefined) throw new Error('the flow has a site');
    // Written as the schema before the migration held them: positions inside the nodes.
    await ds.query(`INSERT INTO call_flows (id, site_id, name, number, entry, nodes) VALUES ($1, $2, $3, $4, $5, $6)`, [flow.id, flow.siteId, flow.name, flow.number ?? null, flow.entry, JSON.stringify(positioned())]);
    const plain = { ...callFlowMapper.toEntity(flow), id: 'f-plain', number: null };
    await ds.manager.insert(CallFlowEntity, plain);
    const owned = { site, numberRanges: [], extensions: [], trunks: [], inboundRoutes: [], callFlows: [{ ...flow, nodes: positioned() }] };
    await ds.manager.insert(SiteRevisionEntity, [
      { siteId: site.id, revision: 1, contentHash: 'sha256:1', owned, reason: 'r1', actor: 'a' },
      { siteId: site.id, revision: 2, contentHash: 'sha256:2', owned: null, reason: 'r2', actor: 'a' },
    ]);

    await ds.runMigrations();
    const layouts = await ds.manager.find(CallFlowLayoutEntity);
    expect(layouts.map((l) => [l.flowId, l.nodes])).toEqual([[flow.id, Object.fromEntries(flow.nodes.map((n, i) => [n.id, { x: i * 10, y: i * 20 }]))]]);
    const stored = await ds.manager.findOneByOrFail(CallFlowEntity, { id: flow.id });
    expect(stored.nodes).toEqual(flow.nodes);
    expect((await ds.manager.findOneByOrFail(CallFlowEntity, { id: 'f-plain' })).nodes).toEqual(flow.nodes);
    const revs = await ds.manager.find(SiteRevisionEntity, { order: { revision: 'ASC' } });
    expect(revs.map((r) => r.owned)).toEqual([{ ...owned, callFlows: [flow] }, null]);

    await undoThroughLayouts();
    const [back] = (await ds.query(`SELECT nodes FROM call_flows WHERE id = $1`, [flow.id])) as [{ nodes: unknown }];
    expect(back.nodes).toEqual(positioned());
  });
});
