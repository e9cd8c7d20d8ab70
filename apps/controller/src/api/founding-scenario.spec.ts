import { foundingScenario, foundingScenarioInput } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/** The founding scenario (seed-scenario.md) built through the REST API on a real PostgreSQL database. */
describe(`founding scenario through the API (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let token: string;
  const input = foundingScenarioInput();

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
  });
  afterAll(async () => t?.close());

  const post = async (path: string, body: unknown) => {
    const r = await t.request('POST', `/api/v1/${path}`, body, token);
    expect(r.status, `${path} ${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`).toBe(201);
    return r;
  };

  it('builds the whole federation object by object, each write validated', async () => {
    for (const c of input.classesOfService) await post('classes-of-service', c);
    for (const s of input.sites) await post('sites', s);
    for (const r of input.numberRanges) await post('number-ranges', r);
    for (const tr of input.trunks) await post('trunks', tr);
    for (const e of input.extensions) await post('extensions', e);
    for (const l of input.links) await post('links', l);
    for (const o of input.outboundRoutes) await post('outbound-routes', o);
    for (const f of input.callFlows) await post('call-flows', f);
    for (const i of input.inboundRoutes) await post('inbound-routes', i);

    const expected = foundingScenario();
    const exts = await t.request('GET', '/api/v1/extensions?limit=1000', undefined, token);
    expect((exts.body['items'] as unknown[]).length).toBe(expected.extensions.length);
    const routes = await t.request('GET', '/api/v1/outbound-routes/or-spb-teho', undefined, token);
    expect(routes.body['data']).toEqual(expected.outboundRoutes.find((r) => r.id === 'or-spb-teho'));
  });

  it('never returns credentials: SIP and trunk secrets are write-only', async () => {
    for (const path of ['extensions', 'trunks', 'links']) {
      const r = await t.request('GET', `/api/v1/${path}?limit=1000`, undefined, token);
      const text = JSON.stringify(r.body);
      expect(text).not.toMatch(/secret-XYZ|SECRET|"sipSecret"|"secret"/);
      expect(text).toMatch(/(sipSecretSet|secretSet)":true/);
    }
  });

  it('generates a SIP secret when a create leaves it out', async () => {
    const r = await post('extensions', { siteId: 'moscow', number: '103', displayName: 'New Person' });
    const data = r.body['data'] as Record<string, unknown>;
    expect(data['sipSecretSet']).toBe(true);
    expect(data['id']).toMatch(/^e-/);
    expect(r.body['changedSites']).toEqual(['moscow']);
  });

  it('traces a call from moscow to piter across the link, and St Petersburg city numbers out through piter', async () => {
    const local = await t.request('POST', '/api/v1/trace', { siteId: 'moscow', caller: '101', number: '301' }, token);
    expect(local.status).toBe(200);
    expect(local.body['plan']).toMatchObject({ outcome: 'route', routeKind: 'site' });
    const teho = await t.request('POST', '/api/v1/trace', { siteId: 'moscow', caller: '101', number: '88125551234' }, token);
    expect(teho.body['plan']).toMatchObject({ outcome: 'route', routeKind: 'teho' });
    expect((teho.body['steps'] as unknown[]).length).toBeGreaterThan(1);
  });

  it('refuses a range that overlaps another site with 409 naming both ranges and the span; nothing is saved', async () => {
    const r = await t.request('POST', '/api/v1/number-ranges', { id: 'r-piter-2', siteId: 'piter', from: '250', to: '349' }, token);
    expect(r.status).toBe(409);
    expect(r.body.error?.code).toBe('validation-conflict');
    const issue = (r.body.error?.['issues'] as { code: string; objects: { id: string }[]; span?: unknown }[]).find((i) => i.code === 'range-overlap');
    expect(issue?.objects.map((o) => o.id)).toEqual(expect.arrayContaining(['r-moscow-2', 'r-piter-2', 'moscow', 'piter']));
    expect(issue?.span).toEqual({ from: '250', to: '299' });
    expect((await t.request('GET', '/api/v1/number-ranges/r-piter-2', undefined, token)).status).toBe(404);
  });

  it('rejects unknown properties and malformed input with 400 and a machine-readable body', async () => {
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'moscow', number: '104', displayName: 'X', colour: 'red' }, token);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('invalid-input');
    expect(JSON.stringify(r.body.error?.['problems'])).toContain('colour');
  });

  it('answers a dry run with the validation result and the sites whose snapshot would change, saving nothing', async () => {
    const r = await t.request('POST', '/api/v1/extensions?dryRun=true', { id: 'e-dry', siteId: 'piter', number: '303', displayName: 'Dry Run' }, token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ dryRun: true, validation: { ok: true }, changedSites: ['piter'], revisions: [] });
    expect((await t.request('GET', '/api/v1/extensions/e-dry', undefined, token)).status).toBe(404);

    const bad = await t.request('POST', '/api/v1/number-ranges?dryRun=true', { id: 'r-x', siteId: 'piter', from: '100', to: '199' }, token);
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ dryRun: true, validation: { ok: false } });

    const range = await t.request('PUT', '/api/v1/number-ranges/r-piter?dryRun=true', { siteId: 'piter', from: '300', to: '599' }, token);
    expect(range.body['changedSites']).toEqual(['kazan', 'moscow', 'piter']);
  });

  it('rolls a site back to an earlier revision, as a new revision', async () => {
    const before = await t.request('GET', '/api/v1/sites/piter/revisions', undefined, token);
    const items = before.body['items'] as { revision: number }[];
    const head = items[0]?.revision as number;
    expect(head).toBeGreaterThan(1);

    expect((await t.request('DELETE', '/api/v1/extensions/e-p302', undefined, token)).status).toBe(200);
    expect((await t.request('GET', '/api/v1/extensions/e-p302', undefined, token)).status).toBe(404);

    const rb = await t.request('POST', `/api/v1/sites/piter/revisions/${head}/rollback`, undefined, token);
    expect(rb.status).toBe(200);
    expect(rb.body['revisions']).toEqual([{ siteId: 'piter', revision: head + 2 }]);
    const restored = await t.request('GET', '/api/v1/extensions/e-p302', undefined, token);
    expect(restored.body['data']).toMatchObject({ number: '302', displayName: 'Pavel Orlov', sipSecretSet: true });
  });

  it('records every change in the audit log with secrets masked', async () => {
    const r = await t.request('GET', '/api/v1/audit?limit=1000', undefined, token);
    const items = r.body['items'] as { action: string; after?: Record<string, unknown> }[];
    const created = items.find((i) => i.action === 'extension.create' && i.after?.['id'] === 'e-m101');
    expect(created?.after?.['sipSecret']).toBe('***');
    expect(JSON.stringify(items)).not.toContain('secret-XYZ');
  });

  it('serves its OpenAPI document and docs page without authentication', async () => {
    const doc = await t.request('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    const paths = doc.body['paths'] as Record<string, unknown>;
    expect(Object.keys(paths)).toContain('/api/v1/extensions/{id}');
    expect(JSON.stringify(doc.body)).toContain('"Extension"');
    // Each operation lists the query parameters its handler reads: dryRun only where a write honours it.
    type Op = { parameters: { name: string; in: string; schema: { type: string } }[] };
    const query = (path: string, method: string): string[] => ((paths[path] as Record<string, Op>)[method]?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query('/api/v1/extensions', 'post')).toEqual(['dryRun']);
    expect(query('/api/v1/extensions/{id}', 'delete')).toEqual(['dryRun']);
    expect(query('/api/v1/sites/{siteId}/revisions/{revision}/rollback', 'post')).toEqual(['dryRun']);
    expect(query('/api/v1/sites/{siteId}/enrollment-tokens', 'post')).toEqual([]);
    expect(query('/api/v1/enroll', 'post')).toEqual([]);
    expect(query('/api/v1/sites/{siteId}/enrollment-tokens', 'get')).toEqual(expect.arrayContaining(['limit', 'before']));
    for (const [path, ops] of Object.entries(paths as Record<string, Record<string, Op>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const names = op.parameters.map((p) => `${p.in}:${p.name}`);
        expect(new Set(names).size, `${method} ${path} lists a parameter twice: ${names.join(', ')}`).toBe(names.length);
      }
    }
    const docs = await t.request('GET', '/api/docs');
    expect(docs.status).toBe(200);
  });
});
