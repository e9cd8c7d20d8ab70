import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/**
 * API tokens that can be limited and ended (issue #17 §3): scopes (read-only, a subset of the user's grants),
 * an expiry, no tokens minted by tokens, rights that shrink with the user's, head office listing and revoking
 * anyone's, and a last-used time written at most once a minute.
 */
describe(`API tokens (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let ds: DataSource;
  const SITE_ADMIN = { username: 'moscow-admin', password: 'Kremlin-Bells-8642' };
  let siteAdminId: string;
  let siteAdmin: string;

  interface Created {
    id: string;
    token: string;
    expiresAt: string;
    readOnly: boolean;
    grants?: unknown[];
  }
  const create = async (token: string, body: Record<string, unknown>): Promise<Created> => {
    const r = await t.request('POST', '/api/v1/api-tokens', body, token);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as unknown as Created;
  };
  const status = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, body?: unknown): Promise<number> => (await t.request(method, url, body, token)).status;
  const extension = async (id: string): Promise<Record<string, unknown>> => {
    const { id: _id, ...rest } = (await t.request('GET', `/api/v1/extensions/${id}`, undefined, admin)).body['data'] as Record<string, unknown>;
    for (const k of Object.keys(rest)) if (k.endsWith('Set')) delete rest[k];
    return rest;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { FEDPBX_API_TOKEN_MAX_DAYS: '30' } });
    ds = t.app.get(DataSource);
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const r = await t.request('POST', '/api/v1/users', { ...SITE_ADMIN, grants: [{ role: 'site-admin', siteId: 'moscow' }] }, admin);
    siteAdminId = (r.body['data'] as { id: string }).id;
    siteAdmin = await t.login(SITE_ADMIN.username, SITE_ADMIN.password);
  }, 60_000);
  afterAll(async () => t?.close());

  it('carries an expiry (default 90 days at most the configured maximum) and stops working when it passes', async () => {
    const tooLong = await t.request('POST', '/api/v1/api-tokens', { name: 'forever', expiresInDays: 31 }, admin);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error?.['problems']).toEqual([expect.objectContaining({ path: 'expiresInDays', message: expect.stringContaining('FEDPBX_API_TOKEN_MAX_DAYS') })]);
    const c = await create(admin, { name: 'monthly', expiresInDays: 30 });
    expect(Date.parse(c.expiresAt) - Date.now()).toBeGreaterThan(29.9 * 86_400_000);
    expect(await status('GET', '/api/v1/auth/me', c.token)).toBe(200);
    await ds.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [c.id]);
    expect(await status('GET', '/api/v1/auth/me', c.token)).toBe(401);
    const listed = (await t.request('GET', '/api/v1/api-tokens', undefined, admin)).body['items'] as { id: string; state: string }[];
    expect(listed.find((x) => x.id === c.id)?.state).toBe('expired');
  });

  it('cannot mint tokens with a token, so no token outlives the one it came from', async () => {
    const parent = await create(admin, { name: 'parent' });
    const child = await t.request('POST', '/api/v1/api-tokens', { name: 'child' }, parent.token);
    expect(child.status).toBe(403);
    expect(child.body.error?.message).toContain('API tokens cannot create API tokens');
  });

  it('limits a read-only token to reading (GET and traces)', async () => {
    const ro = await create(admin, { name: 'monitoring', readOnly: true });
    expect(await status('GET', '/api/v1/extensions/e-p301', ro.token)).toBe(200);
    expect(await status('POST', '/api/v1/trace', ro.token, { siteId: 'piter', caller: '301', number: '101' })).toBe(200);
    expect(await status('PUT', '/api/v1/extensions/e-m101?dryRun=true', ro.token, await extension('e-m101'))).toBe(403);
    expect(await status('POST', '/api/v1/users', ro.token, { username: 'x', password: 'Velvet-Otter-Ladder-42' })).toBe(403);
    expect((await t.request('GET', '/api/v1/auth/me', undefined, ro.token)).body).toMatchObject({ readOnly: true, headOffice: true, writableSites: [] });
  });

  it('limits a token to a subset of its user\'s grants, never more than the user holds', async () => {
    const moscowViewer = await create(admin, { name: 'moscow-reader', grants: [{ role: 'viewer', siteId: 'moscow' }] });
    expect(await status('GET', '/api/v1/extensions/e-m101', moscowViewer.token)).toBe(200);
    expect(await status('GET', '/api/v1/extensions/e-p301', moscowViewer.token)).toBe(404);
    expect(await status('PUT', '/api/v1/extensions/e-m101?dryRun=true', moscowViewer.token, await extension('e-m101'))).toBe(403);
    // A site admin of moscow cannot widen a token beyond moscow; piter is refused the same way whether it exists or not.
    for (const siteId of ['piter', 'no-such-site']) {
      const r = await t.request('POST', '/api/v1/api-tokens', { name: 'wider', grants: [{ role: 'viewer', siteId }] }, siteAdmin);
      expect(r.status).toBe(400);
      expect(r.body.error?.['problems']).toEqual([{ path: 'grants.0', message: 'not within your own grants' }]);
    }
    const headOffice = await t.request('POST', '/api/v1/api-tokens', { name: 'wider', grants: [{ role: 'head-office-admin', siteId: null }] }, siteAdmin);
    expect(headOffice.status).toBe(400);
    const own = await create(siteAdmin, { name: 'moscow-writer', grants: [{ role: 'site-admin', siteId: 'moscow' }] });
    expect(await status('PUT', '/api/v1/extensions/e-m101?dryRun=true', own.token, await extension('e-m101'))).toBe(200);
    // The user is demoted to viewer: the token's site-admin grant is no longer the user's, so the token has no
    // rights left at moscow (it was never given the viewer grant).
    expect(await status('PUT', `/api/v1/users/${siteAdminId}/grants`, admin, { grants: [{ role: 'viewer', siteId: 'moscow' }] })).toBe(200);
    expect(await status('PUT', '/api/v1/extensions/e-m101?dryRun=true', own.token, await extension('e-m101'))).toBe(404);
    expect(await status('GET', '/api/v1/extensions/e-m101', own.token)).toBe(404);
    expect(await status('PUT', `/api/v1/users/${siteAdminId}/grants`, admin, { grants: [{ role: 'site-admin', siteId: 'moscow' }] })).toBe(200);
  });

  it('lets head office list every user\'s tokens and revoke any; others see and revoke only their own', async () => {
    const theirs = await create(siteAdmin, { name: 'provisioning' });
    const mine = await create(admin, { name: 'head-office-script' });
    const all = await t.request('GET', '/api/v1/api-tokens?all=true', undefined, admin);
    expect(all.status).toBe(200);
    expect(all.body['items']).toEqual(expect.arrayContaining([expect.objectContaining({ id: theirs.id, username: SITE_ADMIN.username, state: 'active' })]));
    expect(JSON.stringify(all.body)).not.toContain(theirs.token);
    expect(await status('GET', '/api/v1/api-tokens?all=true', siteAdmin)).toBe(403);
    const own = (await t.request('GET', '/api/v1/api-tokens', undefined, siteAdmin)).body['items'] as { id: string }[];
    expect(own.map((x) => x.id)).not.toContain(mine.id);
    // A site admin cannot revoke (or learn of) head office's token; head office revokes the site admin's.
    expect(await status('DELETE', `/api/v1/api-tokens/${mine.id}`, siteAdmin)).toBe(404);
    expect(await status('DELETE', `/api/v1/api-tokens/not-a-uuid`, siteAdmin)).toBe(404);
    expect(await status('DELETE', `/api/v1/api-tokens/${theirs.id}`, admin)).toBe(204);
    expect(await status('GET', '/api/v1/auth/me', theirs.token)).toBe(401);
    const audit = (await t.request('GET', '/api/v1/audit?limit=1000', undefined, admin)).body['items'] as { action: string; objectId: string; actor: string }[];
    expect(audit.find((e) => e.action === 'apiToken.revoke' && e.objectId === theirs.id)?.actor).toBe(ADMIN.username);
    const after = (await t.request('GET', '/api/v1/api-tokens?all=true', undefined, admin)).body['items'] as { id: string; state: string; revokedBy?: string }[];
    expect(after.find((x) => x.id === theirs.id)).toMatchObject({ state: 'revoked', revokedBy: ADMIN.username });
  });

  it('ends every token of a user that is deleted', async () => {
    const r = await t.request('POST', '/api/v1/users', { username: 'leaver', password: 'Goodbye-Pass-97531', grants: [{ role: 'viewer', siteId: 'moscow' }] }, admin);
    const id = (r.body['data'] as { id: string }).id;
    const token = await create(await t.login('leaver', 'Goodbye-Pass-97531'), { name: 'cron' });
    expect(await status('GET', '/api/v1/auth/me', token.token)).toBe(200);
    expect(await status('DELETE', `/api/v1/users/${id}`, admin)).toBe(204);
    expect(await status('GET', '/api/v1/auth/me', token.token)).toBe(401);
  });

  it('ends every session and token of a user that is disabled; enabling the user again revives none of them', async () => {
    const r = await t.request('POST', '/api/v1/users', { username: 'laptop-lost', password: 'Suspended-Pass-86420', grants: [{ role: 'viewer', siteId: 'moscow' }] }, admin);
    const id = (r.body['data'] as { id: string }).id;
    const login = await t.request('POST', '/api/v1/auth/login', { username: 'laptop-lost', password: 'Suspended-Pass-86420' });
    const { accessToken, refreshToken } = login.body as { accessToken: string; refreshToken: string };
    const token = await create(accessToken, { name: 'backup-script' });
    expect(await status('GET', '/api/v1/auth/me', token.token)).toBe(200);
    expect(await status('PUT', `/api/v1/users/${id}/disabled`, admin, { disabled: true })).toBe(200);
    expect(await status('GET', '/api/v1/auth/me', accessToken)).toBe(401);
    expect(await status('GET', '/api/v1/auth/me', token.token)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken })).status).toBe(401);
    const listed = (await t.request('GET', '/api/v1/api-tokens?all=true', undefined, admin)).body['items'] as { id: string; state: string; revokedBy?: string }[];
    expect(listed.find((x) => x.id === token.id)).toMatchObject({ state: 'revoked', revokedBy: ADMIN.username });
    const audit = (await t.request('GET', '/api/v1/audit?limit=1000', undefined, admin)).body['items'] as { action: string; objectId: string; after?: unknown }[];
    expect(audit.find((e) => e.action === 'user.disable' && e.objectId === id)?.after).toEqual({ disabled: true, sessionsRevoked: 1, tokensRevoked: 1 });
    // Enabled again: the user signs in anew; what they held before stays ended.
    expect(await status('PUT', `/api/v1/users/${id}/disabled`, admin, { disabled: false })).toBe(200);
    expect(await status('GET', '/api/v1/auth/me', token.token)).toBe(401);
    expect(await status('GET', '/api/v1/auth/me', accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken })).status).toBe(401);
    expect(await status('GET', '/api/v1/auth/me', await t.login('laptop-lost', 'Suspended-Pass-86420'))).toBe(200);
  });

  it('shows when a token was last used, written at most once a minute', async () => {
    const c = await create(admin, { name: 'metrics' });
    const lastUsed = async (): Promise<string | undefined> =>
      ((await t.request('GET', '/api/v1/api-tokens', undefined, admin)).body['items'] as { id: string; lastUsedAt?: string }[]).find((x) => x.id === c.id)?.lastUsedAt;
    expect(await lastUsed()).toBeUndefined();
    expect(await status('GET', '/api/v1/auth/me', c.token)).toBe(200);
    const first = await lastUsed();
    expect(first).toBeDefined();
    for (let i = 0; i < 3; i++) expect(await status('GET', '/api/v1/auth/me', c.token)).toBe(200);
    expect(await lastUsed()).toBe(first);
    await ds.query(`UPDATE api_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, [c.id]);
    expect(await status('GET', '/api/v1/auth/me', c.token)).toBe(200);
    expect(Date.parse((await lastUsed())!)).toBeGreaterThan(Date.now() - 5000);
  });
});
