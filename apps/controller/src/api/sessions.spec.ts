import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/**
 * Sessions on the server (issue #17 §2): sign-out ends the token, refresh tokens rotate and a reused one ends its
 * session, idle and absolute lifetimes, head office ending a user's sessions, passwords changed by their user and
 * reset by head office (forced change at next sign-in), the password policy, and the HTTP edge (bearer in any
 * case, malformed JSON, small bodies on public routes).
 */
describe(`sessions and passwords (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  let ds: DataSource;
  const VIEWER = { username: 'moscow-viewer', password: 'viewer-Pass-1357' };
  let viewerId: string;

  interface Tokens {
    accessToken: string;
    refreshToken: string;
    sessionId: string;
    expiresAt: string;
    sessionExpiresAt: string;
    mustChangePassword: boolean;
  }
  const login = async (username: string, password: string): Promise<Tokens> => {
    const r = await t.request('POST', '/api/v1/auth/login', { username, password });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as unknown as Tokens;
  };
  const me = async (token: string): Promise<number> => (await t.request('GET', '/api/v1/auth/me', undefined, token)).status;
  const auditActions = async (): Promise<string[]> => ((await t.request('GET', '/api/v1/audit?limit=1000', undefined, admin)).body['items'] as { action: string }[]).map((e) => e.action);

  beforeAll(async () => {
    t = await startTestApp({ env: { FEDPBX_SESSION_IDLE_SEC: '600', FEDPBX_SESSION_MAX_SEC: '3600' } });
    ds = t.app.get(DataSource);
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const r = await t.request('POST', '/api/v1/users', { ...VIEWER, grants: [{ role: 'viewer', siteId: 'moscow' }] }, admin);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    viewerId = (r.body['data'] as { id: string }).id;
  }, 60_000);
  afterAll(async () => t?.close());

  it('signs out on the server: the access token and the refresh token stop working at once', async () => {
    const s = await login(VIEWER.username, VIEWER.password);
    expect(s.refreshToken).toMatch(/^fpr_/);
    expect(await me(s.accessToken)).toBe(200);
    expect((await t.request('POST', '/api/v1/auth/logout', undefined, s.accessToken)).status).toBe(204);
    expect(await me(s.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: s.refreshToken })).status).toBe(401);
  });

  it('refreshes with rotation; presenting a rotated refresh token again revokes the whole session', async () => {
    const s = await login(VIEWER.username, VIEWER.password);
    const r1 = await t.request('POST', '/api/v1/auth/refresh', { refreshToken: s.refreshToken });
    expect(r1.status).toBe(200);
    const n1 = r1.body as unknown as Tokens;
    expect(n1.sessionId).toBe(s.sessionId);
    expect(n1.refreshToken).not.toBe(s.refreshToken);
    expect(await me(n1.accessToken)).toBe(200);
    const r2 = await t.request('POST', '/api/v1/auth/refresh', { refreshToken: n1.refreshToken });
    expect(r2.status).toBe(200);
    const n2 = r2.body as unknown as Tokens;
    // A thief replays the first refresh token: refused, and the owner's current tokens end with it.
    const replay = await t.request('POST', '/api/v1/auth/refresh', { refreshToken: s.refreshToken });
    expect(replay.status).toBe(401);
    expect(replay.body.error?.message).toContain('revoked');
    expect(await me(n2.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: n2.refreshToken })).status).toBe(401);
    expect(await auditActions()).toContain('session.refresh-reuse');
    // An unknown refresh token changes nothing anywhere.
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: 'fpr_nothing-like-it' })).status).toBe(401);
  });

  it('ends a session after the idle lifetime without use, and at its absolute end however active', async () => {
    const idle = await login(VIEWER.username, VIEWER.password);
    await ds.query(`UPDATE sessions SET last_seen_at = now() - interval '601 seconds' WHERE id = $1`, [idle.sessionId]);
    expect(await me(idle.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: idle.refreshToken })).status).toBe(401);

    const old = await login(VIEWER.username, VIEWER.password);
    expect(Date.parse(old.sessionExpiresAt) - Date.now()).toBeGreaterThan(3590_000);
    await ds.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [old.sessionId]);
    expect(await me(old.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: old.refreshToken })).status).toBe(401);
  });

  it('writes last-seen at most once a minute per session', async () => {
    const s = await login(VIEWER.username, VIEWER.password);
    const seen = async (): Promise<number> => ((await ds.query('SELECT last_seen_at FROM sessions WHERE id = $1', [s.sessionId])) as { last_seen_at: Date }[])[0]!.last_seen_at.getTime();
    const first = await seen();
    for (let i = 0; i < 3; i++) expect(await me(s.accessToken)).toBe(200);
    expect(await seen()).toBe(first);
    await ds.query(`UPDATE sessions SET last_seen_at = now() - interval '61 seconds' WHERE id = $1`, [s.sessionId]);
    expect(await me(s.accessToken)).toBe(200);
    expect(await seen()).toBeGreaterThan(Date.now() - 5000);
  });

  it('lets head office list and end every session of a user', async () => {
    const a = await login(VIEWER.username, VIEWER.password);
    const b = await login(VIEWER.username, VIEWER.password);
    const listed = await t.request('GET', `/api/v1/users/${viewerId}/sessions`, undefined, admin);
    expect(listed.status).toBe(200);
    const ids = (listed.body['items'] as { id: string; source: string }[]).map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining([a.sessionId, b.sessionId]));
    expect((await t.request('GET', `/api/v1/users/${viewerId}/sessions`, undefined, a.accessToken)).status).toBe(403);
    const revoked = await t.request('DELETE', `/api/v1/users/${viewerId}/sessions`, undefined, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body['revoked']).toBeGreaterThanOrEqual(2);
    expect(await me(a.accessToken)).toBe(401);
    expect(await me(b.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/refresh', { refreshToken: b.refreshToken })).status).toBe(401);
    expect(await auditActions()).toContain('user.sessions-revoke');
  });

  it('accepts the bearer scheme in any case and nothing else', async () => {
    const s = await login(VIEWER.username, VIEWER.password);
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await t.request('GET', '/api/v1/auth/me', undefined, undefined, { authorization: `${scheme} ${s.accessToken}` })).status).toBe(200);
    }
    expect((await t.request('GET', '/api/v1/auth/me', undefined, undefined, { authorization: `Basic ${s.accessToken}` })).status).toBe(401);
    expect((await t.request('GET', '/api/v1/auth/me', undefined, undefined, { authorization: s.accessToken })).status).toBe(401);
  });

  it('answers malformed JSON like every other 400, and refuses large bodies on public routes before parsing them', async () => {
    for (const [url, token] of [['/api/v1/auth/login', undefined], ['/api/v1/extensions', admin]] as const) {
      const r = await t.request('POST', url, '{"username": ', token);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid-input', problems: [{ path: '', code: 'invalid-json' }] });
    }
    const shaped = await t.request('POST', '/api/v1/auth/login', { username: 'a' });
    expect(shaped.body.error).toMatchObject({ code: 'invalid-input', problems: [{ path: 'password' }] });
    const big = JSON.stringify({ username: 'admin', password: 'x'.repeat(10_000) });
    for (const url of ['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/enroll']) {
      const r = await t.request('POST', url, big);
      expect(r.status, url).toBe(413);
      expect(r.body.error).toMatchObject({ code: 'payload-too-large' });
    }
    // Authenticated writes keep the large limit (imports of whole federations).
    const import413 = await t.request('POST', '/api/v1/import?dryRun=true', { extensions: [], pad: 'x'.repeat(100_000) }, admin);
    expect(import413.status).toBe(400);
  });

  it('lets a user change their own password with the current one; their other sessions end, this one stays', async () => {
    const user = { username: 'changer', password: 'first-Pass-2468' };
    expect((await t.request('POST', '/api/v1/users', { ...user, grants: [{ role: 'viewer', siteId: 'moscow' }] }, admin)).status).toBe(201);
    const here = await login(user.username, user.password);
    const elsewhere = await login(user.username, user.password);
    const wrong = await t.request('POST', '/api/v1/auth/password', { currentPassword: 'not-it-at-all', newPassword: 'second-Pass-9753' }, here.accessToken);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error?.['problems']).toEqual([expect.objectContaining({ path: 'currentPassword' })]);
    const common = await t.request('POST', '/api/v1/auth/password', { currentPassword: user.password, newPassword: 'Password2024!' }, here.accessToken);
    expect(common.status).toBe(400);
    expect(common.body.error?.['problems']).toEqual([expect.objectContaining({ path: 'newPassword', code: 'password-policy', message: expect.stringContaining('common password') })]);
    const short = await t.request('POST', '/api/v1/auth/password', { currentPassword: user.password, newPassword: 'k7#Lq2' }, here.accessToken);
    expect(short.body.error?.['problems']).toEqual([expect.objectContaining({ message: 'at least 12 characters' })]);
    expect((await t.request('POST', '/api/v1/auth/password', { currentPassword: user.password, newPassword: 'second-Pass-9753' }, here.accessToken)).status).toBe(204);
    expect(await me(here.accessToken)).toBe(200);
    expect(await me(elsewhere.accessToken)).toBe(401);
    expect((await t.request('POST', '/api/v1/auth/login', { username: user.username, password: user.password })).status).toBe(401);
    await login(user.username, 'second-Pass-9753');
    expect(await auditActions()).toContain('user.password-change');
    const audit = JSON.stringify((await t.request('GET', '/api/v1/audit?limit=1000', undefined, admin)).body);
    expect(audit).not.toContain('second-Pass-9753');
  });

  it('lets head office reset a password: the user\'s sessions end and the next sign-in must set a new one first', async () => {
    const user = { username: 'forgetful', password: 'forgot-Pass-1122' };
    const created = await t.request('POST', '/api/v1/users', { ...user, grants: [{ role: 'site-admin', siteId: 'moscow' }] }, admin);
    const id = (created.body['data'] as { id: string }).id;
    const before = await login(user.username, user.password);
    const reset = await t.request('POST', `/api/v1/users/${id}/password`, { newPassword: 'temporary-Pass-3344' }, admin);
    expect(reset.status).toBe(200);
    expect(reset.body['data']).toMatchObject({ mustChangePassword: true });
    expect(await me(before.accessToken)).toBe(401);
    const s = await login(user.username, 'temporary-Pass-3344');
    expect(s.mustChangePassword).toBe(true);
    const blocked = await t.request('GET', '/api/v1/sites', undefined, s.accessToken);
    expect(blocked.status).toBe(403);
    expect(blocked.body.error?.code).toBe('password-change-required');
    expect((await t.request('GET', '/api/v1/auth/me', undefined, s.accessToken)).body).toMatchObject({ mustChangePassword: true });
    expect((await t.request('POST', '/api/v1/api-tokens', { name: 'sneaky' }, s.accessToken)).status).toBe(403);
    expect((await t.request('POST', '/api/v1/auth/password', { currentPassword: 'temporary-Pass-3344', newPassword: 'my-own-Pass-5566' }, s.accessToken)).status).toBe(204);
    expect((await t.request('GET', '/api/v1/sites', undefined, s.accessToken)).status).toBe(200);
    expect((await login(user.username, 'my-own-Pass-5566')).mustChangePassword).toBe(false);
    expect(await auditActions()).toContain('user.password-reset');
    // Only head office resets: a site admin (this user) is refused.
    expect((await t.request('POST', `/api/v1/users/${viewerId}/password`, { newPassword: 'temporary-Pass-7788' }, s.accessToken)).status).toBe(403);
  });

  it('describes the session and password routes in the OpenAPI document', async () => {
    const doc = (await t.request('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    const body = (path: string, method: string): string => JSON.stringify(doc.paths[path]?.[method]?.requestBody);
    expect(body('/api/v1/auth/refresh', 'post')).toContain('RefreshBody');
    expect(body('/api/v1/auth/password', 'post')).toContain('ChangePasswordBody');
    expect(body('/api/v1/users/{id}/password', 'post')).toContain('ResetPasswordBody');
    expect(JSON.stringify(doc.paths['/api/v1/auth/login']?.['post']?.responses['200'])).toContain('SessionTokens');
    expect(doc.paths['/api/v1/auth/logout']?.['post']).toBeDefined();
    expect(Object.keys(doc.paths['/api/v1/users/{id}/sessions'] ?? {}).sort()).toEqual(['delete', 'get']);
    expect(doc.components.schemas['SessionTokens']).toBeDefined();
  });

  it('applies the password policy when head office creates a user', async () => {
    for (const password of ['password1234', 'qwertyuiop123', 'abcabcabcabcabc', 'aaaaaaaaaaaaaaaaa', 'newbie-newbie-2026']) {
      const r = await t.request('POST', '/api/v1/users', { username: 'newbie', password, grants: [] }, admin);
      expect(r.status, password).toBe(400);
      expect(r.body.error?.['problems']).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'password', code: 'password-policy' })]));
    }
    expect((await t.request('POST', '/api/v1/users', { username: 'newbie', password: 'Velvet-Otter-Ladder-42', grants: [] }, admin)).status).toBe(201);
  });
});
