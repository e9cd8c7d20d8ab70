import type { SurvivabilityChange, SurvivabilityReport } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, survivabilityReport } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

const PASSWORD = 'survivability-password-123';

describe(`survivability report over the API (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let moscowAdmin: string;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const user = await t.request('POST', '/api/v1/users', { username: 'msk-admin', password: PASSWORD, grants: [{ role: 'site-admin', siteId: 'moscow' }] }, admin);
    expect(user.status).toBe(201);
    moscowAdmin = await t.login('msk-admin', PASSWORD);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers the report libs/dialplan computes from the site\'s configuration, at its revision', async () => {
    const r = await t.request('GET', '/api/v1/sites/moscow/survivability', undefined, admin);
    expect(r.status).toBe(200);
    const report = r.body as unknown as SurvivabilityReport;
    expect(report.revision).toBeGreaterThan(0);
    expect(report).toEqual(survivabilityReport(buildSiteConfig(foundingScenario(), 'moscow'), report.revision));
    expect(report.scenarios.map((s) => `${s.id} ${s.redFlags}`)).toEqual([
      'centre-down 0',
      'link-down:kazan 2',
      'link-down:piter 0',
      'all-links-down 2',
      'trunk-down:t-moscow-city 7',
      'trunk-down:t-piter-city 0',
      'agent-down 7',
    ]);
  });

  it.each([
    ['a branch admin, their own site', 'moscow', 'branch', 200],
    ['a branch admin, a foreign site', 'piter', 'branch', 404],
    ['a branch admin, an unknown site', 'nowhere', 'branch', 404],
    ['head office, an unknown site', 'nowhere', 'head office', 404],
    ['no token', 'moscow', 'nobody', 401],
  ] as const)('is scoped like every site read: %s answers %i', async (_case, siteId, who, status) => {
    const token = who === 'branch' ? moscowAdmin : who === 'head office' ? admin : undefined;
    expect((await t.request('GET', `/api/v1/sites/${siteId}/survivability`, undefined, token)).status).toBe(status);
  });

  it('answers a foreign site exactly as an unknown one: the 404 tells a branch admin nothing', async () => {
    const foreign = await t.request('GET', '/api/v1/sites/piter/survivability', undefined, moscowAdmin);
    const unknown = await t.request('GET', '/api/v1/sites/nowhere/survivability', undefined, moscowAdmin);
    expect(foreign.body.error?.code).toBe(unknown.body.error?.code);
    expect(foreign.body.error?.message).toBe('site piter not found');
  });

  it('a dry run says what the change does to the sites\' survivability, red flags first, and validation warns', async () => {
    // Moscow's national calls through piter's trunk only: they now depend on piter and the link to it.
    const route = (await t.request('GET', '/api/v1/outbound-routes/or-msk-national', undefined, admin)).body['data'] as Record<string, unknown>;
    const { id: _id, ...body } = route;
    const r = await t.request('PUT', '/api/v1/outbound-routes/or-msk-national?dryRun=true', { ...body, trunks: [{ trunkId: 't-piter-city' }] }, admin);
    expect(r.status).toBe(200);
    const { changes, sitesNotCompared } = r.body['survivability'] as { changes: SurvivabilityChange[]; sitesNotCompared: string[] };
    expect(sitesNotCompared).toEqual([]);
    expect(changes[0]).toMatchObject({
      siteId: 'moscow',
      scenarioId: 'link-down:piter',
      area: 'outbound',
      subject: 'Russia from Moscow (national)',
      before: { status: 'works', path: 'trunk moscow-city' },
      after: { status: 'red-flag', path: '' },
    });
    expect(changes.filter((c) => c.after?.status === 'red-flag').map((c) => c.scenarioId)).toEqual(['link-down:piter', 'all-links-down', 'trunk-down:t-piter-city']);
    const warnings = (r.body['validation'] as { warnings: { code: string; message: string }[] }).warnings;
    expect(warnings.map((w) => w.message)).toContain('outbound route "Russia from Moscow" has no trunk at moscow: calls from there through it depend on another site (and the link to it)');
    // Nothing was written: the report is as before.
    const after = (await t.request('GET', '/api/v1/sites/moscow/survivability', undefined, admin)).body as unknown as SurvivabilityReport;
    expect(after.scenarios.find((s) => s.id === 'link-down:piter')?.redFlags).toBe(0);
  });

  it('a branch admin\'s dry run compares only their own site', async () => {
    const r = await t.request('POST', '/api/v1/inbound-routes?dryRun=true', { siteId: 'moscow', did: '74950000000', destination: { type: 'flow', flowId: 'f-moscow-reception' } }, moscowAdmin);
    expect(r.status).toBe(200);
    const { changes } = r.body['survivability'] as { changes: SurvivabilityChange[] };
    expect(new Set(changes.map((c) => c.siteId))).toEqual(new Set(['moscow']));
    expect(changes.filter((c) => c.after?.status === 'red-flag').map((c) => `${c.scenarioId} ${c.subject}`)).toEqual(['trunk-down:t-moscow-city DID 74950000000', 'agent-down DID 74950000000']);
  });

  it('a dry run of link generation says what the new links give back (this test deletes a link: keep it last)', async () => {
    expect((await t.request('DELETE', '/api/v1/links/l-moscow-kazan', undefined, admin)).status).toBe(200);
    const r = await t.request('POST', '/api/v1/links/generate?dryRun=true', { topology: 'full-mesh' }, admin);
    expect(r.status).toBe(200);
    const { changes } = r.body['survivability'] as { changes: SurvivabilityChange[] };
    expect(changes.find((c) => c.siteId === 'moscow' && c.scenarioId === 'centre-down' && c.subject === 'kazan 6100-6111')).toMatchObject({
      before: { status: 'not-available', path: '' },
      after: { status: 'works', path: 'direct over the link to kazan' },
    });
    // A scenario the new link brings: its rows are new (no "before").
    expect(changes.some((c) => c.siteId === 'moscow' && c.scenarioId === 'link-down:kazan' && c.before === undefined)).toBe(true);
  });
});
