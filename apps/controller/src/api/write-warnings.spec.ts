import { generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

interface Issue {
  readonly code: string;
  readonly message: string;
  readonly objects: readonly { type: string; id: string; siteId?: string }[];
}
interface Counted {
  readonly warningCount: number;
  readonly warningsByCode: Record<string, number>;
}
type Validation = Counted & { ok: boolean; errors: Issue[]; warnings: Issue[] };
type WarningPage = Counted & { items: Issue[]; next?: string };

const PASSWORD = 'write-warnings-password-123';
const SITES = 30;

/**
 * A write's answer lists the first 20 warnings and counts them all (at 1,000 sites ~1,000 standing warnings were
 * ~0.5 MB of JSON in every answer); GET /api/v1/warnings pages through every one of the current federation.
 */
describe(`warnings in write answers (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let siteAdmin: string;
  // Each site's route to its city goes through its own trunk and the hub's: a route-only-remote-trunks warning each.
  const fed = generateFederation({ sites: SITES, extensionsPerSite: 2, flows: 0 });
  const routesForAll = fed.outboundRoutes.filter((r) => r.sites.length === 0).length;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.login(ADMIN.username, ADMIN.password);
    const imported = await t.request('POST', '/api/v1/import', fed, admin);
    expect(imported.status, JSON.stringify(imported.body).slice(0, 500)).toBe(201);
    const user = await t.request('POST', '/api/v1/users', { username: 'warnings-site-admin', password: PASSWORD, grants: [{ role: 'site-admin', siteId: siteIdOf(3) }] }, admin);
    expect(user.status).toBe(201);
    siteAdmin = await t.login('warnings-site-admin', PASSWORD);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const allWarnings = async (token: string, query = ''): Promise<{ items: Issue[]; pages: WarningPage[] }> => {
    const pages: WarningPage[] = [];
    let after: string | undefined;
    do {
      const r = await t.request('GET', `/api/v1/warnings?limit=7${query}${after !== undefined ? `&after=${after}` : ''}`, undefined, token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const page = r.body as unknown as WarningPage;
      pages.push(page);
      after = page.next;
    } while (after !== undefined && pages.length < 100);
    return { items: pages.flatMap((p) => p.items), pages };
  };

  it('a write lists the first 20 warnings, counts all of them by code, and GET /api/v1/warnings pages through them', async () => {
    const r = await t.request('POST', '/api/v1/number-ranges', { id: 'nr-extra', siteId: siteIdOf(3), from: '900000', to: '900099' }, admin);
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(201);
    const v = r.body['validation'] as Validation;
    expect(v.ok).toBe(true);
    expect(v.warningCount).toBeGreaterThan(20);
    expect(v.warnings).toHaveLength(20);
    expect(v.warningsByCode['route-only-remote-trunks']).toBe(routesForAll);
    expect(Object.values(v.warningsByCode).reduce((a, b) => a + b, 0)).toBe(v.warningCount);

    const { items, pages } = await allWarnings(admin);
    expect(items).toHaveLength(v.warningCount);
    expect(items.slice(0, 20)).toEqual(v.warnings);
    expect(pages.every((p) => p.warningCount === v.warningCount && p.items.length <= 7)).toBe(true);
    expect(pages[0]?.warningsByCode).toEqual(v.warningsByCode);
    const counted: Record<string, number> = {};
    for (const w of items) counted[w.code] = (counted[w.code] ?? 0) + 1;
    expect(counted).toEqual(v.warningsByCode);

    const routes = await allWarnings(admin, '&code=route-only-remote-trunks');
    expect(routes.items).toEqual(items.filter((w) => w.code === 'route-only-remote-trunks'));
  });

  it('what the write brings comes first: a new warning is listed, whatever stands before it', async () => {
    // A route for site 3 through the hub's trunk only: its route-only-remote-trunks warning is the last in validation order.
    const route = { id: 'or-via-hub', name: 'Via the hub', patterns: ['_9XXXXXXX'], callClass: 'national', sites: [siteIdOf(3)], trunks: [{ trunkId: `t-${siteIdOf(0)}` }] };
    const r = await t.request('POST', '/api/v1/outbound-routes', route, admin);
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(201);
    const v = r.body['validation'] as Validation;
    expect(v.warnings[0]).toMatchObject({ code: 'route-only-remote-trunks', objects: [{ type: 'outboundRoute', id: 'or-via-hub' }, { type: 'site', id: siteIdOf(3) }] });
    expect(v.warnings.slice(1).filter((w) => w.objects.some((o) => o.id === 'or-via-hub'))).toEqual([]);
    const { items } = await allWarnings(admin);
    expect(items.findIndex((w) => w.objects.some((o) => o.id === 'or-via-hub'))).toBe(items.length - 1);
    expect(items.length).toBeGreaterThan(20);
    expect((await t.request('DELETE', '/api/v1/outbound-routes/or-via-hub', undefined, admin)).status).toBe(200);
  });

  it('a refused write (409) counts the warnings too', async () => {
    const r = await t.request('POST', '/api/v1/number-ranges', { id: 'nr-112', siteId: siteIdOf(3), from: '110', to: '115' }, admin);
    expect(r.status).toBe(409);
    const body = r.body.error as unknown as Counted & { issues: Issue[]; warnings: Issue[] };
    expect(body.issues.map((i) => i.code)).toContain('emergency-number-in-range');
    expect(body.warnings).toHaveLength(20);
    expect(body.warningsByCode['route-only-remote-trunks']).toBe(routesForAll);
  });

  it('a site admin sees the warnings with other sites\' objects hidden, and a bad page is 400', async () => {
    const { items } = await allWarnings(siteAdmin);
    expect(items.length).toBeGreaterThan(20);
    const text = JSON.stringify(items);
    for (let i = 0; i < SITES; i++) if (i !== 3) expect(text).not.toContain(`"${siteIdOf(i)}"`);
    expect((await t.request('GET', '/api/v1/warnings?after=x', undefined, siteAdmin)).status).toBe(400);
    expect((await t.request('GET', '/api/v1/warnings?limit=0', undefined, siteAdmin)).status).toBe(400);
    expect((await t.request('GET', '/api/v1/warnings')).status).toBe(401);
  });
});
