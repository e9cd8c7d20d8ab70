import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';

/** No DATABASE_URL: the controller runs on PGlite in memory, with the same migrations, and serves. */
describe('embedded database (PGlite)', () => {
  let t: TestApp;
  // An initdb in memory: ~10 s of CPU, a few minutes of wall time on a loaded 2-core machine.
  beforeAll(async () => {
    t = await startTestApp({ embedded: true });
  }, 240_000);
  afterAll(async () => t?.close());

  it('starts, migrates and serves validated writes and reads', async () => {
    const token = await t.login(ADMIN.username, ADMIN.password);
    expect((await t.request('POST', '/api/v1/sites', { id: 'solo', name: 'Solo office' }, token)).status).toBe(201);
    expect((await t.request('POST', '/api/v1/number-ranges', { id: 'r-solo', siteId: 'solo', from: '120', to: '199' }, token)).status).toBe(201);
    expect((await t.request('POST', '/api/v1/trunks', { id: 't-solo', siteId: 'solo', name: 'city', host: 'sip.solo.example' }, token)).status).toBe(201);
    const ext = await t.request('POST', '/api/v1/extensions', { id: 'e-1', siteId: 'solo', number: '121', displayName: 'First' }, token);
    expect(ext.status).toBe(201);
    expect(ext.body['revisions']).toEqual([{ siteId: 'solo', revision: 4 }]);
    const clash = await t.request('POST', '/api/v1/extensions', { id: 'e-2', siteId: 'solo', number: '121', displayName: 'Twin' }, token);
    expect(clash.status).toBe(409);
    const list = await t.request('GET', '/api/v1/extensions', undefined, token);
    expect((list.body['items'] as { id: string }[]).map((e) => e.id)).toEqual(['e-1']);
  });

  // The embedded database has one connection, held by a transaction from BEGIN to COMMIT: a read outside the
  // transaction while it is open waits for ever (and every later request behind it). Refreshing did that once.
  it('refreshes a session, twice, and serves the next request', async () => {
    const login = await t.request('POST', '/api/v1/auth/login', ADMIN);
    let refreshToken = login.body['refreshToken'] as string;
    for (let i = 0; i < 2; i++) {
      const r = await t.request('POST', '/api/v1/auth/refresh', { refreshToken });
      expect(r.status).toBe(200);
      refreshToken = r.body['refreshToken'] as string;
    }
    const token = await t.login(ADMIN.username, ADMIN.password);
    expect((await t.request('GET', '/api/v1/sites', undefined, token)).status).toBe(200);
  }, 30_000);
});
