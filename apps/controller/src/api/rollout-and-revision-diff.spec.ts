import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutRepository } from '../rollout/rollout.repository.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

describe(`rollout status and revision diff (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let rollout: RolloutRepository;
  let ds: DataSource;

  const siteRollout = async (siteId: string) => (await t.request('GET', `/api/v1/sites/${siteId}/rollout`, undefined, admin)).body['data'] as Record<string, unknown>;
  const head = async (siteId: string) => (await siteRollout(siteId))['currentRevision'] as number;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    rollout = t.app.get(RolloutRepository);
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t?.close());

  it('walks a site through publishing, never-seen, applying, refused and in-sync', async () => {
    const current = await head('piter');
    expect(await siteRollout('piter')).toMatchObject({ state: 'publishing', publishedRevision: null, appliedRevision: null, refused: null });
    await rollout.recordPublished(ds.manager, 'piter', current, 'sha256:p', new Date());
    expect(await siteRollout('piter')).toMatchObject({ state: 'never-seen', publishedRevision: current });
    await rollout.recordApplied(ds.manager, 'piter', current - 1, new Date());
    expect(await siteRollout('piter')).toMatchObject({ state: 'applying', appliedRevision: current - 1 });
    await rollout.recordRefused(ds.manager, 'piter', current, 'bad-signature: snapshot revision has a bad signature', new Date());
    expect(await siteRollout('piter')).toMatchObject({ state: 'refused', refused: { revision: current, reason: 'bad-signature: snapshot revision has a bad signature' } });
    await rollout.recordApplied(ds.manager, 'piter', current, new Date());
    expect(await siteRollout('piter')).toMatchObject({ state: 'in-sync', appliedRevision: current, refused: null, behindSince: null, behindSec: 0 });
  });

  it('keeps the newest report: an older or repeated applied revision changes nothing', async () => {
    const current = await head('piter');
    const before = await siteRollout('piter');
    await ds.transaction(async (m) => {
      await rollout.recordApplied(m, 'piter', current - 2, new Date());
      await rollout.recordApplied(m, 'piter', current, new Date(Date.now() + 60_000));
    });
    expect(await siteRollout('piter')).toEqual({ ...before, behindSec: 0 });
  });

  it('stores a batch of applied reports in one go: per site the newest counts, older ones and unknown sites change nothing', async () => {
    const current = await head('kazan');
    const t0 = Date.now();
    await rollout.recordAppliedMany(ds.manager, [
      { siteId: 'kazan', revision: current - 1, at: new Date(t0) },
      { siteId: 'kazan', revision: current, at: new Date(t0 + 1000) },
      { siteId: 'kazan', revision: current - 2, at: new Date(t0 + 2000) },
      { siteId: 'atlantis', revision: 7, at: new Date(t0) },
    ]);
    expect(await siteRollout('kazan')).toMatchObject({ appliedRevision: current, appliedAt: new Date(t0 + 1000).toISOString() });
    await rollout.recordAppliedMany(ds.manager, [{ siteId: 'kazan', revision: current - 1, at: new Date(t0 + 5000) }]);
    expect(await siteRollout('kazan')).toMatchObject({ appliedRevision: current });
    expect(await ds.query(`SELECT 1 FROM site_rollouts WHERE site_id = 'atlantis'`)).toEqual([]);
  });

  it('says since when a site is behind: the creation of the oldest revision it has not applied', async () => {
    await rollout.recordApplied(ds.manager, 'moscow', await head('moscow'), new Date());
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'moscow', number: '107', displayName: 'Behind' }, admin);
    expect(r.status).toBe(201);
    const [{ created_at: createdAt }] = (await ds.query(`SELECT created_at FROM site_config_revisions WHERE site_id = 'moscow' ORDER BY revision DESC LIMIT 1`)) as [{ created_at: Date }];
    const s = await siteRollout('moscow');
    expect(s).toMatchObject({ state: 'publishing', behindSince: createdAt.toISOString() });
    expect(s['behindSec']).toBeGreaterThanOrEqual(0);
    expect(s['behindSec']).toBeLessThan(60);
  });

  it('drops reports for a site that does not exist, and lists only the sites a caller may read', async () => {
    await rollout.recordApplied(ds.manager, 'atlantis', 3, new Date());
    const all = await t.request('GET', '/api/v1/rollout', undefined, admin);
    expect((all.body['items'] as { siteId: string }[]).map((s) => s.siteId)).toEqual(['kazan', 'moscow', 'piter']);
    await t.request('POST', '/api/v1/users', { username: 'kazan-viewer', password: 'kazan-reader-pass-1', grants: [{ role: 'viewer', siteId: 'kazan' }] }, admin);
    const viewer = await t.login('kazan-viewer', 'kazan-reader-pass-1');
    const seen = await t.request('GET', '/api/v1/rollout', undefined, viewer);
    expect((seen.body['items'] as { siteId: string }[]).map((s) => s.siteId)).toEqual(['kazan']);
    expect((await t.request('GET', '/api/v1/sites/moscow/rollout', undefined, viewer)).status).toBe(404);
  });

  it('diffs two revisions of a site by collection and id, credentials masked', async () => {
    const from = await head('kazan');
    const ext = await t.request('GET', '/api/v1/extensions/e-k101', undefined, admin);
    const { id: _id, sipSecretSet: _set, voicemailPinSet: _pin, ...k101 } = ext.body['data'] as Record<string, unknown>;
    expect((await t.request('PUT', '/api/v1/extensions/e-k101', { ...k101, displayName: 'Rustam K.', sipSecret: 'rotated-k101-secret' }, admin)).status).toBe(200);
    expect((await t.request('POST', '/api/v1/extensions', { id: 'e-k120', siteId: 'kazan', number: '120', displayName: 'Added' }, admin)).status).toBe(201);
    expect((await t.request('DELETE', '/api/v1/extensions/e-k102', undefined, admin)).status).toBe(200);
    const to = await head('kazan');
    const r = await t.request('GET', `/api/v1/sites/kazan/revisions/diff?from=${from}&to=${to}`, undefined, admin);
    expect(r.status).toBe(200);
    const d = r.body['data'] as { from: { revision: number }; to: { revision: number }; site: unknown; collections: Record<string, { added: { id: string }[]; removed: { id: string }[]; changed: { id: string; fields: string[] }[] }> };
    expect(d.from.revision).toBe(from);
    expect(d.to.revision).toBe(to);
    expect(d.site).toBeNull();
    const ext2 = d.collections['extensions']!;
    expect(ext2.added.map((o) => o.id)).toEqual(['e-k120']);
    expect(ext2.removed.map((o) => o.id)).toEqual(['e-k102']);
    expect(ext2.changed).toEqual([expect.objectContaining({ id: 'e-k101', fields: ['displayName', 'sipSecret'] })]);
    expect(JSON.stringify(r.body)).not.toMatch(/rotated-k101-secret|k101-secret-XYZ|k102-secret-XYZ/);
    const back = await t.request('GET', `/api/v1/sites/kazan/revisions/diff?from=${to}&to=${from}`, undefined, admin);
    expect((back.body['data'] as typeof d).collections['extensions']!.added.map((o) => o.id)).toEqual(['e-k102']);
  });

  it('records a site\'s own objects only in revisions that change them, and still shows and restores them from any revision', async () => {
    const before = await head('kazan');
    const kazan = (await t.request('GET', `/api/v1/sites/kazan/revisions/${before}`, undefined, admin)).body['data'] as { owned: { extensions: { id: string }[] } };
    // A range at piter changes every site's snapshot: kazan gets a revision, but its own objects did not change.
    expect((await t.request('POST', '/api/v1/number-ranges', { id: 'nr-p-700', siteId: 'piter', from: '700', to: '749' }, admin)).status).toBe(201);
    const planOnly = await head('kazan');
    expect(planOnly).toBe(before + 1);
    const stored = (await ds.query(`SELECT site_id, owned IS NULL AS shared FROM site_config_revisions WHERE revision = $1 AND site_id = 'kazan' OR site_id = 'piter' AND revision = $2`, [planOnly, await head('piter')])) as { site_id: string; shared: boolean }[];
    expect(Object.fromEntries(stored.map((r) => [r.site_id, r.shared]))).toEqual({ kazan: true, piter: false });
    const shown = (await t.request('GET', `/api/v1/sites/kazan/revisions/${planOnly}`, undefined, admin)).body['data'] as typeof kazan;
    expect(shown.owned).toEqual(kazan.owned);
    // Change kazan, then roll it back to the revision that did not record its objects.
    expect((await t.request('DELETE', '/api/v1/extensions/e-k120', undefined, admin)).status).toBe(200);
    const rb = await t.request('POST', `/api/v1/sites/kazan/revisions/${planOnly}/rollback`, undefined, admin);
    expect(rb.status).toBe(200);
    const now = (await t.request('GET', `/api/v1/sites/kazan/revisions/${await head('kazan')}`, undefined, admin)).body['data'] as typeof kazan;
    expect(now.owned.extensions.map((e) => e.id)).toEqual(kazan.owned.extensions.map((e) => e.id));
  });

  it('describes the rollout, diff and enrollment routes in the OpenAPI document', async () => {
    const doc = (await t.request('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown }>>; components: { schemas: Record<string, unknown> } };
    for (const p of ['/api/v1/rollout', '/api/v1/sites/{siteId}/rollout', '/api/v1/sites/{siteId}/revisions/diff']) expect(doc.paths[p]?.['get'], p).toBeDefined();
    expect(doc.paths['/api/v1/sites/{siteId}/enrollment-tokens']?.['post']).toBeDefined();
    expect(doc.paths['/api/v1/enroll']?.['post']?.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/EnrollRequest' } } } });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['EnrollRequest', 'EnrollResponse', 'EnrollmentTokenIssued', 'SiteRollout']));
  });

  it('refuses a diff without both revisions (400) or of a revision that does not exist (404)', async () => {
    expect((await t.request('GET', '/api/v1/sites/kazan/revisions/diff?from=1', undefined, admin)).status).toBe(400);
    expect((await t.request('GET', '/api/v1/sites/kazan/revisions/diff?from=1&to=x', undefined, admin)).status).toBe(400);
    const missing = await t.request('GET', '/api/v1/sites/kazan/revisions/diff?from=1&to=99999', undefined, admin);
    expect(missing.status).toBe(404);
    expect(missing.body.error?.message).toContain('kazan@99999');
  });
});
