import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

interface Issue {
  readonly code: string;
  readonly message: string;
  readonly objects: readonly { type: string; id: string; siteId?: string }[];
}
interface Answer {
  readonly dryRun: boolean;
  readonly validation: { ok: boolean; errors: Issue[]; warnings: Issue[] };
  readonly changedSites: string[];
  readonly revisions: { siteId: string; revision: number }[];
}

const PITER_ADMIN = { username: 'piter-admin', password: 'Velvet-Otter-Ladder-42' };

/**
 * Deletes with `?dryRun=true` are the console's impact preview: the federation as it would be without the object,
 * checked whole (what breaks, named), and the sites whose configuration would change; nothing saved, nothing
 * audited, no revision. A site admin's preview names nothing outside their sites.
 */
describe(`delete previews: DELETE ?dryRun=true (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let token: string;
  let piterToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, token);
    const u = await t.request('POST', '/api/v1/users', { ...PITER_ADMIN, grants: [{ role: 'site-admin', siteId: 'piter' }] }, token);
    expect(u.status).toBe(201);
    piterToken = await t.login(PITER_ADMIN.username, PITER_ADMIN.password);
  }, 120_000);
  afterAll(async () => t?.close());

  const del = async (path: string, dryRun: boolean, as = token) => t.request('DELETE', `/api/v1/${path}${dryRun ? '?dryRun=true' : ''}`, undefined, as);
  const revisionCount = async (siteId: string): Promise<number> => ((await t.request('GET', `/api/v1/sites/${siteId}/revisions?limit=1000`, undefined, token)).body['items'] as unknown[]).length;
  const auditCount = async (): Promise<number> => ((await t.request('GET', '/api/v1/audit?limit=1000', undefined, token)).body['items'] as unknown[]).length;
  const named = (issues: readonly Issue[]): string[] => [...new Set(issues.flatMap((i) => i.objects.map((o) => `${o.type} ${o.id}`)))].sort();

  it("previews a number range's delete: the phones, the inbound route and the other site's flow that would break; nothing saved", async () => {
    const [revisions, audit] = [await revisionCount('piter'), await auditCount()];
    const r = await del('number-ranges/r-piter', true);
    expect(r.status).toBe(200);
    const answer = r.body as unknown as Answer;
    expect(answer.dryRun).toBe(true);
    expect(answer.validation.ok).toBe(false);
    expect(named(answer.validation.errors)).toEqual(
      expect.arrayContaining(['extension e-p301', 'extension e-p302', 'inboundRoute ir-spb-main', 'callFlow f-moscow-reception']),
    );
    expect(answer.validation.errors.find((i) => i.objects.some((o) => o.id === 'f-moscow-reception'))?.code).toBe('call-flow');
    // Every site dials by the federation's ranges: all would get new configuration.
    expect(answer.changedSites).toEqual(['kazan', 'moscow', 'piter']);
    expect(answer.revisions).toEqual([]);
    expect((await t.request('GET', '/api/v1/number-ranges/r-piter', undefined, token)).status).toBe(200);
    expect(await revisionCount('piter')).toBe(revisions);
    expect(await auditCount()).toBe(audit);
  });

  it('refuses the real delete with the same findings (409), and keeps the range', async () => {
    const preview = (await del('number-ranges/r-piter', true)).body as unknown as Answer;
    const real = await del('number-ranges/r-piter', false);
    expect(real.status).toBe(409);
    expect(named(real.body.error?.['issues'] as Issue[])).toEqual(named(preview.validation.errors));
    expect((await t.request('GET', '/api/v1/number-ranges/r-piter', undefined, token)).status).toBe(200);
  });

  it("previews a trunk's delete: the outbound routes that name it, and piter left without an emergency trunk", async () => {
    const answer = (await del('trunks/t-piter-city', true)).body as unknown as Answer;
    expect(answer.validation.ok).toBe(false);
    expect(named(answer.validation.errors)).toEqual(expect.arrayContaining(['outboundRoute or-spb-local', 'outboundRoute or-spb-national', 'outboundRoute or-spb-teho']));
    expect(answer.validation.errors.map((i) => i.code)).toContain('no-emergency-trunk');
  });

  it("previews a call flow's and a class of service's delete: the inbound route and the phone that name them", async () => {
    const flow = (await del('call-flows/f-moscow-reception', true)).body as unknown as Answer;
    expect(named(flow.validation.errors)).toContain('inboundRoute ir-msk-main');
    expect(flow.changedSites).toEqual(['moscow']);
    const cos = (await del('classes-of-service/cos-international', true)).body as unknown as Answer;
    expect(named(cos.validation.errors)).toContain('extension e-m101');
  });

  it("previews a link's delete as valid with its two ends changing, then deletes it: revisions for both, audited", async () => {
    const [moscow, piter, audit] = [await revisionCount('moscow'), await revisionCount('piter'), await auditCount()];
    const preview = (await del('links/l-moscow-piter', true)).body as unknown as Answer;
    expect(preview.validation.ok).toBe(true);
    expect(preview.validation.errors).toEqual([]);
    expect(preview.changedSites).toEqual(['moscow', 'piter']);
    expect((await t.request('GET', '/api/v1/links/l-moscow-piter', undefined, token)).status).toBe(200);

    const real = await del('links/l-moscow-piter', false);
    expect(real.status).toBe(200);
    expect((real.body as unknown as Answer).changedSites).toEqual(preview.changedSites);
    expect((real.body as unknown as Answer).revisions.map((r) => r.siteId).sort()).toEqual(['moscow', 'piter']);
    expect((await t.request('GET', '/api/v1/links/l-moscow-piter', undefined, token)).status).toBe(404);
    expect([await revisionCount('moscow'), await revisionCount('piter'), await auditCount()]).toEqual([moscow + 1, piter + 1, audit + 1]);
  });

  it("gives a site admin the preview of their own phone's delete without naming the other site's flow that would break", async () => {
    const r = await del('extensions/e-p301', true, piterToken);
    expect(r.status).toBe(200);
    const answer = r.body as unknown as Answer;
    expect(answer.validation.ok).toBe(false);
    expect(named(answer.validation.errors)).toEqual(['callFlow (hidden)', 'inboundRoute ir-spb-main']);
    expect(JSON.stringify(answer)).not.toMatch(/moscow|reception/);
    expect(answer.changedSites).toEqual(['piter']);
    // Head office sees the same finding with the flow named.
    const ho = (await del('extensions/e-p301', true)).body as unknown as Answer;
    expect(named(ho.validation.errors)).toContain('callFlow f-moscow-reception');
  });

  it("refuses a site admin's preview of a head-office kind (403) and of another site's object (404), as the real delete", async () => {
    expect((await del('outbound-routes/or-spb-local', true, piterToken)).status).toBe(403);
    expect((await del('extensions/e-m101', true, piterToken)).status).toBe(404);
    expect((await del('number-ranges/r-nosuch', true)).status).toBe(404);
  });
});
