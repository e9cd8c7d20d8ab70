import { PassThrough } from 'node:stream';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetAdmin, runResetAdmin } from '../cli/reset-admin-command.js';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../testing/test-database.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';

const PASSWORD = 'Vq7-tundra-Koala-38x';
const HEAD_OFFICE = [{ role: 'head-office-admin', siteId: null }];

/** Runs `fedpbx-controller reset-admin` in-process; stdout/stderr collected. */
async function resetAdminCli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  input.end(stdin);
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) => new PassThrough().on('data', (c: Buffer) => into.push(c.toString('utf8')));
  const code = await runResetAdmin(args, env, { stdin: input, out: sink(out), err: sink(err) });
  return { code, out: out.join(''), err: err.join('') };
}

const database = await testDatabaseKind();
// A second process (the reset-admin command) on the database the running controller uses is a PostgreSQL thing: the
// embedded database is one process's (PGlite has a single session). Its embedded path is the last describe below.
const secondProcessOnTheDatabase = database.kind === 'postgres';
if (!secondProcessOnTheDatabase) {
  process.stderr.write(`\n*** head-office-admin.spec.ts: "reset-admin on the controller host ..." is NOT run: it needs PostgreSQL (${database.reason}); the embedded database's reset-admin path is tested below ***\n\n`);
}
/** Registers a test only where the database allows a second process on it (the reason is printed above otherwise). */
function itWithSecondProcess(name: string, fn: () => Promise<void>): void {
  if (secondProcessOnTheDatabase) it(name, fn);
}

describe(`the last active head-office admin (#17 §1, ${database.kind === 'postgres' ? 'PostgreSQL' : 'embedded database, no PostgreSQL reachable'})`, () => {
  let db: TestDatabase;
  let t: TestApp;
  let admin: string;
  let adminId: string;
  /** The head-office admin left after the concurrency test. */
  let survivor: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp({ env: { ...db.env } });
    admin = await t.login(ADMIN.username, ADMIN.password);
    adminId = (await t.request('GET', '/api/v1/auth/me', undefined, admin)).body['userId'] as string;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  const newUser = async (username: string, grants: unknown[], token = admin) => {
    const r = await t.request('POST', '/api/v1/users', { username, password: PASSWORD, grants }, token);
    expect(r.status).toBe(201);
    return (r.body['data'] as { id: string }).id;
  };

  it('refuses the last head-office admin removing their own grant (409 naming the rule); nothing changes', async () => {
    const r = await t.request('PUT', `/api/v1/users/${adminId}/grants`, { grants: [] }, admin);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'invariant-violated', rule: 'last-head-office-admin' });
    expect(r.body.error?.message).toContain('at least one active head-office admin');
    const me = await t.request('GET', `/api/v1/users/${adminId}`, undefined, admin);
    expect((me.body['data'] as { grants: unknown[] }).grants).toEqual(HEAD_OFFICE);
    expect((await t.request('GET', '/api/v1/users', undefined, admin)).status).toBe(200);
  });

  it('counts only enabled head-office admins: grant changes, disabling and deletion all keep one', async () => {
    const bId = await newUser('second-admin', HEAD_OFFICE);
    const b = await t.login('second-admin', PASSWORD);
    // Two admins: one may step down...
    expect((await t.request('PUT', `/api/v1/users/${bId}/disabled`, { disabled: true }, admin)).status).toBe(200);
    expect((await t.request('POST', '/api/v1/auth/login', { username: 'second-admin', password: PASSWORD })).status).toBe(401);
    expect((await t.request('GET', '/api/v1/users', undefined, b)).status).toBe(401);
    // ...but with the other one disabled, the remaining one cannot lose the grant.
    const lose = await t.request('PUT', `/api/v1/users/${adminId}/grants`, { grants: [] }, admin);
    expect(lose.body.error).toMatchObject({ code: 'invariant-violated', rule: 'last-head-office-admin' });
    expect((await t.request('PUT', `/api/v1/users/${adminId}/disabled`, { disabled: true }, admin)).status).toBe(403);
    expect((await t.request('PUT', `/api/v1/users/${bId}/disabled`, { disabled: false }, admin)).status).toBe(200);
    const b2 = await t.login('second-admin', PASSWORD);
    // With both enabled, b removes the bootstrap admin's grant; then b is the last one and cannot go.
    expect((await t.request('PUT', `/api/v1/users/${adminId}/grants`, { grants: [] }, b2)).status).toBe(200);
    const selfDemote = await t.request('PUT', `/api/v1/users/${bId}/grants`, { grants: [] }, b2);
    expect(selfDemote.status).toBe(409);
    expect((await t.request('DELETE', `/api/v1/users/${bId}`, undefined, b2)).status).toBe(403);
    // Restore: b gives the grant back to admin, admin deletes b (two admins until then).
    expect((await t.request('PUT', `/api/v1/users/${adminId}/grants`, { grants: HEAD_OFFICE }, b2)).status).toBe(200);
    expect((await t.request('DELETE', `/api/v1/users/${bId}`, undefined, admin)).status).toBe(204);
    const audit = await t.request('GET', '/api/v1/audit?limit=100', undefined, admin);
    const actions = (audit.body['items'] as { action: string; objectId: string }[]).filter((e) => e.objectId === bId).map((e) => e.action);
    expect(actions).toEqual(['user.delete', 'user.enable', 'user.disable', 'user.create']);
  });

  it('lets exactly one of two concurrent demotions of the two last admins through', async () => {
    const cId = await newUser('third-admin', HEAD_OFFICE);
    const c = await t.login('third-admin', PASSWORD);
    const [x, y] = await Promise.all([
      t.request('PUT', `/api/v1/users/${cId}/grants`, { grants: [] }, admin),
      t.request('PUT', `/api/v1/users/${adminId}/grants`, { grants: [] }, c),
    ]);
    // PostgreSQL: both requests pass authorization, then the advisory lock lets one demotion through and the other
    // finds the rule broken (409). The embedded database runs one write at a time, so the second request is
    // authorized after the first committed, with its user no longer a head-office admin (403). Either way: one.
    expect([x.status, y.status].sort()).toEqual(database.kind === 'postgres' ? [200, 409] : [200, 403]);
    survivor = x.status === 200 ? admin : c;
    const list = await t.request('GET', '/api/v1/users', undefined, survivor);
    const heads = (list.body['items'] as { grants: { role: string }[] }[]).filter((u) => u.grants.some((g) => g.role === 'head-office-admin'));
    expect(heads).toHaveLength(1);
  });

  itWithSecondProcess('reset-admin on the controller host restores a head-office admin, audited, on PostgreSQL', async () => {
    // Lost: the only head-office admin is "third-admin" or "admin"; nobody knows a password any more.
    const r = await resetAdminCli(['--user', 'rescue'], db.env);
    expect(r.code, r.err).toBe(0);
    const password = r.out.trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(r.err).toMatch(/^created head-office admin "rescue" \(postgres database\); audited as cli:reset-admin \S+@\S+\n$/);
    const rescue = await t.login('rescue', password);
    const flags = async (username: string) =>
      (await t.app.get(DataSource).query('SELECT u.disabled, u.must_change_password AS "mustChange", g.role FROM users u JOIN grants g ON g.user_id = u.id WHERE u.username = $1', [username])) as unknown[];
    expect(await flags('rescue')).toEqual([{ disabled: false, mustChange: true, role: 'head-office-admin' }]);
    // The printed password only opens the way to choosing one's own.
    expect((await t.request('GET', '/api/v1/users', undefined, rescue)).body.error?.code).toBe('password-change-required');
    const changed = await t.request('POST', '/api/v1/auth/password', { currentPassword: password, newPassword: 'Rz5-otter-Canyon-93k' }, rescue);
    expect(changed.status, JSON.stringify(changed.body)).toBeLessThan(300);
    const manager = await t.login('rescue', 'Rz5-otter-Canyon-93k');
    expect((await t.request('GET', '/api/v1/users', undefined, manager)).status).toBe(200);
    // An existing, disabled, demoted user gets its grant, its access and a password read from stdin.
    const headOffice = survivor;
    const dId = await newUser('demoted', [], headOffice);
    expect((await t.request('PUT', `/api/v1/users/${dId}/disabled`, { disabled: true }, headOffice)).status).toBe(200);
    const again = await resetAdminCli(['--user', 'demoted', '--password-stdin'], db.env, 'Lx9-mango-Fjord-412\n');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe('');
    await t.login('demoted', 'Lx9-mango-Fjord-412');
    expect(await flags('demoted')).toEqual([{ disabled: false, mustChange: true, role: 'head-office-admin' }]);
    const audit = await t.request('GET', '/api/v1/audit?limit=100', undefined, headOffice);
    const entries = (audit.body['items'] as { action: string; actor: string; objectId: string; before?: unknown; after?: unknown }[]).filter((e) => e.action === 'user.reset-admin');
    expect(entries.map((e) => e.objectId)).toEqual([dId, expect.any(String)]);
    expect(entries[0]?.actor).toMatch(/^cli:reset-admin /);
    expect(entries[0]?.before).toEqual({ disabled: true, grants: [] });
    expect(JSON.stringify(audit.body)).not.toContain('Lx9-mango-Fjord-412');
    expect(JSON.stringify(audit.body)).not.toContain(password);
  });

  it('reset-admin refuses bad usage with exit 2 and touches nothing', async () => {
    expect((await resetAdminCli(['--user', 'bad name'], db.env)).code).toBe(2);
    expect((await resetAdminCli(['--bogus'], db.env)).code).toBe(2);
    expect((await resetAdminCli(['--password-stdin'], db.env, 'short\n')).code).toBe(2);
    const bad = await resetAdminCli([], { DATABASE_URL: 'not a url' });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('DATABASE_URL');
  });
});

describe('reset-admin on the embedded database', () => {
  // The command's own path (settings -> DataSource -> migrations -> resetAdmin) is the PostgreSQL test's; a fresh
  // on-disk PGlite takes ~35 s to create here, so this runs resetAdmin on the embedded app's own database.
  it('restores a head-office admin on PGlite, beside a running controller of that database', async () => {
    const t = await startTestApp({ embedded: true });
    try {
      const r = await resetAdmin(t.app.get(DataSource), 'rescue', 'Pq4-walrus-Tide-77b', 'cli:reset-admin test@host');
      expect(r).toMatchObject({ username: 'rescue', created: true });
      await t.login('rescue', 'Pq4-walrus-Tide-77b');
      const ds = t.app.get(DataSource);
      expect(await ds.query(`SELECT g.role, u.must_change_password AS "mustChange" FROM users u JOIN grants g ON g.user_id = u.id WHERE u.username = 'rescue'`)).toEqual([{ role: 'head-office-admin', mustChange: true }]);
      expect(await ds.query(`SELECT action, actor FROM audit_log ORDER BY id DESC LIMIT 1`)).toEqual([{ action: 'user.reset-admin', actor: 'cli:reset-admin test@host' }]);
    } finally {
      await t.close();
    }
  }, 120_000);
});
