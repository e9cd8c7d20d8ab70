import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';

/** A site's busy-lamp setting (contracts PresenceSettings) through the REST API, on a real PostgreSQL database. */
describe('site presence setting', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
    for (const id of ['msk', 'spb']) expect((await t.request('POST', '/api/v1/sites', { id, name: `Site ${id}` }, token)).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('is stored and read back with its defaults; absent on a site that never set one', async () => {
    const before = await t.request('GET', '/api/v1/sites/msk', undefined, token);
    expect(JSON.stringify(before.body)).not.toContain('presence');
    const put = await t.request('PUT', '/api/v1/sites/msk', { id: 'msk', name: 'Site msk', presence: { remoteHints: 'listed', watch: [{ siteId: 'spb', numbers: ['301'] }] } }, token);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const after = await t.request('GET', '/api/v1/sites/msk', undefined, token);
    const data = (after.body.data ?? after.body) as { presence?: unknown };
    expect(data.presence).toEqual({ share: 'all', sharedNumbers: [], remoteHints: 'listed', watch: [{ siteId: 'spb', numbers: ['301'] }] });
  });

  it('refuses a malformed setting and a site watching itself, saving nothing', async () => {
    const bad = await t.request('PUT', '/api/v1/sites/spb', { id: 'spb', name: 'Site spb', presence: { remoteHints: 'some' } }, token);
    expect(bad.status).toBe(400);
    const self = await t.request('PUT', '/api/v1/sites/spb', { id: 'spb', name: 'Site spb', presence: { remoteHints: 'listed', watch: [{ siteId: 'spb' }] } }, token);
    expect(self.status, JSON.stringify(self.body)).toBe(409);
    expect(JSON.stringify(self.body)).toContain('watches the site itself');
    const stored = await t.request('GET', '/api/v1/sites/spb', undefined, token);
    expect(JSON.stringify(stored.body)).not.toContain('presence');
  });
});
