import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationStore } from '../federation/federation-store.js';
import { siteConfigText } from '../federation/site-config-hash.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { CallFlowLayoutUpgrade } from './call-flow-layout-upgrade.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/** Issue #18 §2: where the console draws a flow is console metadata - saving it makes no revision and no rollout. */
describe(`call-flow layout, outside the snapshot (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let ds: DataSource;
  const FLOW = 'f-moscow-reception';

  /** Every site's newest revision, and how many revisions exist in all. */
  const revisions = async (): Promise<{ heads: Record<string, number>; count: number }> => {
    const rows = (await ds.query(`SELECT site_id, max(revision) AS head, count(*) AS n FROM site_config_revisions GROUP BY site_id ORDER BY site_id`)) as { site_id: string; head: number; n: string }[];
    return { heads: Object.fromEntries(rows.map((r) => [r.site_id, Number(r.head)])), count: rows.reduce((s, r) => s + Number(r.n), 0) };
  };
  const flowBody = async (): Promise<Record<string, unknown>> => {
    const { id: _id, ...rest } = (await t.request('GET', `/api/v1/call-flows/${FLOW}`, undefined, admin)).body['data'] as Record<string, unknown>;
    return rest;
  };
  const moscowSnapshot = async (): Promise<string> => siteConfigText((await t.app.get(FederationStore).read()).federation, 'moscow').json;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t?.close());

  it('saves a layout without a new revision or any change to the snapshot, and reads it back', async () => {
    const before = await revisions();
    const snapshot = await moscowSnapshot();
    const layout = { nodes: { hours: { x: 0, y: 0 }, menu: { x: 10, y: 200 }, vm: { x: 401, y: 800 } } };
    const put = await t.request('PUT', `/api/v1/call-flows/${FLOW}/layout`, layout, admin);
    expect(put.status).toBe(200);
    expect(put.body['data']).toMatchObject({ flowId: FLOW, nodes: layout.nodes });
    // Moving a box by one pixel is a layout change too.
    const nudged = await t.request('PUT', `/api/v1/call-flows/${FLOW}/layout`, { nodes: { ...layout.nodes, vm: { x: 402, y: 800 } } }, admin);
    expect(nudged.status).toBe(200);
    expect(await revisions()).toEqual(before);
    expect(await moscowSnapshot()).toBe(snapshot);
    const got = await t.request('GET', `/api/v1/call-flows/${FLOW}/layout`, undefined, admin);
    expect(got.body['data']).toMatchObject({ flowId: FLOW, nodes: { ...layout.nodes, vm: { x: 402, y: 800 } } });
    expect(typeof (got.body['data'] as { updatedAt: unknown }).updatedAt).toBe('string');
    const audit = (await ds.query(`SELECT action FROM audit_log WHERE object_id = $1 AND action = 'callFlow.layout'`, [FLOW])) as unknown[];
    expect(audit).toHaveLength(2);
  });

  it('"Check" of an untouched flow reports no site changing, whatever its layout', async () => {
    const check = await t.request('PUT', `/api/v1/call-flows/${FLOW}?dryRun=true`, await flowBody(), admin);
    expect(check.status).toBe(200);
    expect(check.body['changedSites']).toEqual([]);
    // Saving it unchanged makes no revision either; changing its routing does, for moscow only.
    const before = await revisions();
    expect((await t.request('PUT', `/api/v1/call-flows/${FLOW}`, await flowBody(), admin)).body['revisions']).toEqual([]);
    expect(await revisions()).toEqual(before);
    const routing = { ...(await flowBody()), name: 'Moscow reception (new)' };
    const changed = await t.request('PUT', `/api/v1/call-flows/${FLOW}`, routing, admin);
    expect(changed.body['changedSites']).toEqual(['moscow']);
    expect((await revisions()).heads['moscow']).toBe((before.heads['moscow'] ?? 0) + 1);
  });

  it('takes node positions still sent inside a flow as its layout: the flow and the snapshot never carry them', async () => {
    const before = await revisions();
    const body = await flowBody();
    const nodes = (body['nodes'] as { id: string }[]).map((n, i) => ({ ...n, position: { x: 100 * i, y: 50 * i } }));
    const put = await t.request('PUT', `/api/v1/call-flows/${FLOW}`, { ...body, nodes }, admin);
    expect(put.status).toBe(200);
    expect(put.body['revisions']).toEqual([]);
    expect(JSON.stringify(put.body['data'])).not.toContain('position');
    expect(await revisions()).toEqual(before);
    expect(JSON.stringify(await flowBody())).not.toContain('position');
    expect(await moscowSnapshot()).not.toContain('position');
    const layout = (await t.request('GET', `/api/v1/call-flows/${FLOW}/layout`, undefined, admin)).body['data'] as { nodes: Record<string, unknown> };
    expect(layout.nodes).toEqual(Object.fromEntries(nodes.map((n, i) => [n.id, { x: 100 * i, y: 50 * i }])));
    // A malformed position is refused like any other bad input.
    const bad = await t.request('PUT', `/api/v1/call-flows/${FLOW}`, { ...body, nodes: [{ ...nodes[0], position: { x: 'left' } }, ...nodes.slice(1)] }, admin);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid-input', problems: [{ path: 'nodes.0.position' }] });
  });

  it('refuses positions of nodes the flow does not have, and a layout of a flow that does not exist', async () => {
    const r = await t.request('PUT', `/api/v1/call-flows/${FLOW}/layout`, { nodes: { ghost: { x: 1, y: 2 } } }, admin);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid-input', problems: [{ path: 'nodes.ghost', message: `flow ${FLOW} has no node ghost` }] });
    expect((await t.request('PUT', `/api/v1/call-flows/${FLOW}/layout`, { nodes: { hours: { x: 1 } } }, admin)).status).toBe(400);
    expect((await t.request('PUT', '/api/v1/call-flows/f-nosuch/layout', { nodes: {} }, admin)).status).toBe(404);
    expect((await t.request('GET', '/api/v1/call-flows/f-nosuch/layout', undefined, admin)).status).toBe(404);
  });

  it('forgets the layout with its flow', async () => {
    const flow = { id: 'f-short', siteId: 'moscow', name: 'Short', entry: 'a', nodes: [{ id: 'a', type: 'hangup', position: { x: 5, y: 6 } }] };
    expect((await t.request('POST', '/api/v1/call-flows', flow, admin)).status).toBe(201);
    expect((await t.request('GET', '/api/v1/call-flows/f-short/layout', undefined, admin)).body['data']).toMatchObject({ nodes: { a: { x: 5, y: 6 } } });
    expect((await t.request('DELETE', '/api/v1/call-flows/f-short', undefined, admin)).status).toBe(200);
    expect(await ds.query(`SELECT 1 FROM call_flow_layouts WHERE flow_id = 'f-short'`)).toEqual([]);
  });

  it('writes a site whose flows had positions one revision without them after the upgrade, then nothing more', async () => {
    // As the upgrade leaves it: moscow's head revision hashes a snapshot that still had positions, and the layout
    // moved out of its flow is marked. (The version bump makes the controller read the federation again.)
    const before = await revisions();
    await ds.query(`UPDATE site_config_revisions SET content_hash = 'sha256:with-positions' WHERE site_id = 'moscow' AND revision = $1`, [before.heads['moscow']]);
    await ds.query(`UPDATE federation_state SET version = version + 1`);
    await t.request('PUT', `/api/v1/call-flows/${FLOW}/layout`, { nodes: { vm: { x: 3, y: 4 } } }, admin);
    await ds.query(`UPDATE call_flow_layouts SET moved_from_snapshot = true WHERE flow_id = $1`, [FLOW]);

    const upgrade = t.app.get(CallFlowLayoutUpgrade);
    expect(await upgrade.republish()).toEqual(['moscow']);
    const after = await revisions();
    expect(after.heads).toEqual({ ...before.heads, moscow: (before.heads['moscow'] ?? 0) + 1 });
    const [head] = (await ds.query(`SELECT reason, actor, content_hash FROM site_config_revisions WHERE site_id = 'moscow' ORDER BY revision DESC LIMIT 1`)) as { reason: string; actor: string; content_hash: string }[];
    expect(head).toMatchObject({ reason: 'call-flow layouts left the snapshot', actor: 'controller' });
    expect(head?.content_hash).not.toBe('sha256:with-positions');
    expect(await ds.query(`SELECT 1 FROM call_flow_layouts WHERE moved_from_snapshot`)).toEqual([]);
    // The layout itself is kept; a second start has nothing to do.
    expect((await t.request('GET', `/api/v1/call-flows/${FLOW}/layout`, undefined, admin)).body['data']).toMatchObject({ nodes: { vm: { x: 3, y: 4 } } });
    expect(await upgrade.republish()).toEqual([]);
    expect(await revisions()).toEqual(after);
  });
});
