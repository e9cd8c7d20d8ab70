import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffSec, LoginThrottle } from '../auth/login-throttle.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { testDatabaseLabel } from '../testing/test-database.js';

/**
 * Login throttling (issue #17 §2): "ten bad logins for admin from any address lock the real admin out for 300 s,
 * renewable forever; behind a reverse proxy everyone shares one key". Counters live in the database (shared by
 * replicas); the proxy's X-Forwarded-For is believed only from FEDPBX_TRUSTED_PROXIES.
 */
describe(`login throttling (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  // Requests are injected from 127.0.0.1, the trusted proxy here: X-Forwarded-For names each client.
  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const login = (username: string, password: string, ip: string) => t.request('POST', '/api/v1/auth/login', { username, password }, undefined, from(ip));
  const lockouts = async (): Promise<{ objectId: string; after: { kind: string; source: string; failures: number; blockedUntil: string } }[]> => {
    const token = (await login(ADMIN.username, ADMIN.password, '192.0.2.1')).body['accessToken'] as string;
    const items = (await t.request('GET', '/api/v1/audit?limit=1000', undefined, token)).body['items'] as { action: string }[];
    return items.filter((e) => e.action === 'auth.lockout') as never;
  };

  beforeAll(async () => {
    t = await startTestApp({
      // A first wait of a minute: the test's next attempts fall inside it however slow the machine is.
      env: {
        FEDPBX_TRUSTED_PROXIES: '127.0.0.1, 10.99.0.0/16',
        FEDPBX_LOGIN_MAX_ATTEMPTS: '3',
        FEDPBX_LOGIN_ACCOUNT_MAX_ATTEMPTS: '6',
        FEDPBX_LOGIN_SOURCE_MAX_ATTEMPTS: '8',
        FEDPBX_LOGIN_BACKOFF_FIRST_SEC: '60',
      },
    });
  }, 60_000);
  afterAll(async () => t?.close());

  it('backs off exponentially after the free attempts, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20, 60].map((n) => backoffSec(n, 3, 900))).toEqual([0, 0, 1, 2, 4, 8, 16, 900, 900]);
    expect([2, 3, 4, 5, 6].map((n) => backoffSec(n, 3, 900, 60))).toEqual([0, 60, 120, 240, 480]);
  });

  it('keeps the real admin signing in from a known address while an attacker guesses from others, and audits the lock-outs', async () => {
    // The admin signed in from the office before: that address is known.
    expect((await login(ADMIN.username, ADMIN.password, '192.0.2.1')).status).toBe(200);
    // The attacker: three guesses from one address, then that address waits (429 with Retry-After).
    for (let i = 0; i < 3; i++) expect((await login(ADMIN.username, `guess-${i}`, '203.0.113.66')).status).toBe(401);
    const held = await login(ADMIN.username, 'guess-3', '203.0.113.66');
    expect(held.status).toBe(429);
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(50);
    // ... and the right password from the attacker's address waits too: it is not even checked.
    expect((await login(ADMIN.username, ADMIN.password, '203.0.113.66')).status).toBe(429);
    // Three more guesses from other addresses: six for the account, its limit.
    for (let i = 0; i < 3; i++) expect((await login(ADMIN.username, 'guess', `198.51.100.${i + 1}`)).status).toBe(401);
    // A new address now waits for this account ...
    expect((await login(ADMIN.username, ADMIN.password, '198.51.100.200')).status).toBe(429);
    // ... but the admin's known address is not held back, however long the attack goes on.
    expect((await login(ADMIN.username, ADMIN.password, '192.0.2.1')).status).toBe(200);
    // The attack on admin does not touch another account from the attacker's address.
    expect((await login('somebody-else', 'guess', '198.51.100.1')).status).toBe(401);

    const entries = await lockouts();
    expect(entries.map((e) => e.after.kind)).toEqual(expect.arrayContaining(['account-and-source', 'account']));
    expect(entries.find((e) => e.after.kind === 'account-and-source')).toMatchObject({ objectId: 'admin', after: { source: '203.0.113.66', failures: 3 } });
  });

  it('backs a source off that sprays many accounts, except for accounts that signed in from it before', async () => {
    const ip = '203.0.113.77';
    for (let i = 0; i < 8; i++) expect((await login(`spray-${i}`, 'guess', ip)).status).toBe(401);
    expect((await login('spray-9', 'guess', ip)).status).toBe(429);
    expect((await lockouts()).some((e) => e.after.kind === 'source' && e.objectId === ip)).toBe(true);
    // The admin signed in from the office (192.0.2.1), not from here: held back. Sharing this address after a
    // success here (a colleague's NAT), they would pass.
    expect((await login(ADMIN.username, ADMIN.password, ip)).status).toBe(429);
  });

  it('counts in the database: every failure on a counter, doubling waits, forgotten after the window', async () => {
    const throttle = t.app.get(LoginThrottle);
    const m = t.app.get(DataSource).manager;
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const now = new Date(t0 + i * 1000);
      const locks = await throttle.fail(m, 'carol', '192.0.2.50', now);
      const mine = locks.find((l) => l.kind === 'account-and-source');
      waits.push(mine === undefined ? 0 : (mine.blockedUntil.getTime() - now.getTime()) / 1000);
    }
    expect(waits).toEqual([0, 0, 60, 120, 240, 480, 900]);
    expect(await throttle.retryAfterSec('carol', '192.0.2.50', false, new Date(t0 + 6000))).toBe(900);
    // FEDPBX_LOGIN_WINDOW_SEC (900 s) after the last failure the counter starts again.
    const later = new Date(t0 + 6000 + 901_000);
    expect(await throttle.retryAfterSec('carol', '192.0.2.50', false, later)).toBe(0);
    expect(await throttle.fail(m, 'carol', '192.0.2.50', later)).toEqual([]);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const direct = await startTestApp({ env: { FEDPBX_LOGIN_MAX_ATTEMPTS: '2', FEDPBX_LOGIN_ACCOUNT_MAX_ATTEMPTS: '100', FEDPBX_LOGIN_BACKOFF_FIRST_SEC: '60' } });
    try {
      // No trusted proxy: a client naming a new address in every request is still one client.
      for (let i = 0; i < 2; i++) expect((await direct.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'x' }, undefined, from(`10.0.0.${i}`))).status).toBe(401);
      expect((await direct.request('POST', '/api/v1/auth/login', { username: 'admin', password: 'x' }, undefined, from('10.0.0.9'))).status).toBe(429);
    } finally {
      await direct.close();
    }
    // Trusted (this app): each forwarded client is its own source, so one client's lock-out is not another's.
    for (let i = 0; i < 3; i++) await login('dave', 'x', '192.0.2.91');
    expect((await login('dave', 'x', '192.0.2.91')).status).toBe(429);
    expect((await login('dave', 'x', '192.0.2.92')).status).toBe(401);
  });
});
