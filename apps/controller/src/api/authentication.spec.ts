import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

describe(`authentication (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { FEDPBX_LOGIN_MAX_ATTEMPTS: '3', FEDPBX_LOGIN_WINDOW_SEC: '60', FEDPBX_LOGIN_BACKOFF_FIRST_SEC: '30' } });
  });
  afterAll(async () => t?.close());

  it('refuses a wrong password with 401 and rate-limits guessing with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await t.request('POST', '/api/v1/auth/login', { username: 'nobody', password: 'wrong' });
      expect(r.status).toBe(401);
    }
    const limited = await t.request('POST', '/api/v1/auth/login', { username: 'nobody', password: 'wrong' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('issues API tokens shown once, stored hashed, usable until revoked', async () => {
    // The test above rate-limited this client address on `t`; a fresh app has a fresh limiter.
    const t2 = await startTestApp();
    try {
      const token = await t2.login(ADMIN.username, ADMIN.password);
      const created = await t2.request('POST', '/api/v1/api-tokens', { name: 'crm' }, token);
      expect(created.status).toBe(201);
      const apiToken = created.body['token'] as string;
      expect(apiToken).toMatch(/^fpt_/);
      const me = await t2.request('GET', '/api/v1/auth/me', undefined, apiToken);
      expect(me.body).toMatchObject({ username: ADMIN.username, via: 'api-token', headOffice: true });
      const listed = await t2.request('GET', '/api/v1/api-tokens', undefined, token);
      expect(JSON.stringify(listed.body)).not.toContain(apiToken);
      expect((await t2.request('DELETE', `/api/v1/api-tokens/${String(created.body['id'])}`, undefined, token)).status).toBe(204);
      expect((await t2.request('GET', '/api/v1/auth/me', undefined, apiToken)).status).toBe(401);
    } finally {
      await t2.close();
    }
  });

  it('creates the bootstrap admin on first start only', async () => {
    const r = await t.request('GET', '/api/v1/health');
    expect(r.status).toBe(200);
    // A second bootstrap with other credentials must not add a user or change the password.
    const { AuthService } = await import('../auth/auth.service.js');
    const { UserRepository } = await import('../auth/user.repository.js');
    await t.app.get(AuthService).onApplicationBootstrap();
    expect(await t.app.get(UserRepository).count()).toBe(1);
  });
});
