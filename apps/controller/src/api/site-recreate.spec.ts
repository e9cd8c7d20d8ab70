import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';

describe('a site deleted and created again under the same id', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.login(ADMIN.username, ADMIN.password);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('continues its revision numbers instead of colliding with the old ones', async () => {
    const site = { id: 'novgorod', name: 'Novgorod branch' };
    expect((await t.request('POST', '/api/v1/sites', site, token)).status).toBe(201);
    expect((await t.request('PUT', '/api/v1/sites/novgorod', { ...site, name: 'Veliky Novgorod branch' }, token)).status).toBe(200);
    expect((await t.request('DELETE', '/api/v1/sites/novgorod', undefined, token)).status).toBe(200);
    const again = await t.request('POST', '/api/v1/sites', site, token);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    const revisions = await t.request('GET', '/api/v1/sites/novgorod/revisions', undefined, token);
    expect((revisions.body.items as { revision: number }[]).map((r) => r.revision)).toEqual([3, 2, 1]);
  });
});
