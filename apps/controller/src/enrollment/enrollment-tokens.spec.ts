import 'reflect-metadata';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollmentToken, EnrollmentTokenPage } from '@fedpbx/contracts';
import { createNatsTrust, issuerOf } from '@fedpbx/nats-auth';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataSourceOptions } from '../database/data-source-options.js';
import { MIGRATIONS } from '../database/migrations/index.js';
import { buildFoundingScenario } from '../testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../testing/test-app.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../testing/test-database.js';

const PASSWORD = 'tokens-password-123';

describe(`enrollment tokens: list, revoke, and enrollment with a revoked token (${testDatabaseLabel()})`, () => {
  let t: TestApp;
  let admin: string;
  const as = {} as Record<'siteAdmin' | 'viewer', string>;

  const issue = async (siteId: string): Promise<string> => {
    const r = await t.request('POST', `/api/v1/sites/${siteId}/enrollment-tokens`, undefined, admin);
    expect(r.status).toBe(201);
    return r.body['token'] as string;
  };
  const list = async (siteId: string, token = admin, query = ''): Promise<EnrollmentTokenPage> => {
    const r = await t.request('GET', `/api/v1/sites/${siteId}/enrollment-tokens${query}`, undefined, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return EnrollmentTokenPage.parse(r.body);
  };
  /** The id of the site's newest token (the issue answer names the token, not its id). */
  const newest = async (siteId: string): Promise<string> => (await list(siteId, admin, '?limit=1')).items[0]!.id;
  const revoke = (id: string, token = admin, query = '') => t.request('DELETE', `/api/v1/enrollment-tokens/${id}${query}`, undefined, token);
  const enroll = (token: string) => t.request('POST', '/api/v1/enroll', { token });
  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> => t.app.get(DataSource).query(text, params);

  beforeAll(async () => {
    // Enrollment configured (an issuer to mint agent credentials with; no NATS connection needed for that).
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-tokens-'));
    writeFileSync(join(dir, 'nats-issuer.json'), JSON.stringify(issuerOf(await createNatsTrust())));
    t = await startTestApp({
      env: { FEDPBX_DATA_DIR: dir, FEDPBX_NATS_ISSUER_FILE: join(dir, 'nats-issuer.json'), FEDPBX_NATS_AGENT_URLS: 'nats://127.0.0.1:4222', FEDPBX_LOGIN_MAX_ATTEMPTS: '1000' },
    });
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    for (const [key, role] of [['siteAdmin', 'site-admin'], ['viewer', 'viewer']] as const) {
      const username = `moscow-${role}`;
      expect((await t.request('POST', '/api/v1/users', { username, password: PASSWORD, grants: [{ role, siteId: 'moscow' }] }, admin)).status).toBe(201);
      as[key] = await t.login(username, PASSWORD);
    }
  }, 240_000); // the embedded database (no PostgreSQL) is created with an initdb: tens of seconds on a loaded machine
  afterAll(async () => t?.close());

  it('lists the site\'s tokens newest first as pending, used, expired and revoked, never with the token or its hash', async () => {
    const used = await issue('kazan');
    const expired = await issue('kazan');
    const revoked = await issue('kazan');
    const pending = await issue('kazan');
    expect((await enroll(used)).status).toBe(200);
    const ids = (await list('kazan')).items.map((i) => i.id); // newest first: pending, revoked, expired, used
    await sql(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [ids[2]]);
    expect((await revoke(ids[1]!)).status).toBe(200);

    const page = await list('kazan');
    expect(page.items.map((i) => [i.id, i.state])).toEqual([
      [ids[0], 'pending'],
      [ids[1], 'revoked'],
      [ids[2], 'expired'],
      [ids[3], 'used'],
    ]);
    expect(page.next).toBeUndefined();
    const [p, r, , u] = page.items;
    expect(p).toEqual({ id: ids[0], siteId: 'kazan', createdAt: expect.any(String), createdBy: 'admin', expiresAt: expect.any(String), usedAt: null, revokedAt: null, revokedBy: null, state: 'pending' });
    expect(r).toMatchObject({ usedAt: null, revokedAt: expect.any(String), revokedBy: 'admin' });
    expect(u).toMatchObject({ usedAt: expect.any(String), revokedAt: null, revokedBy: null });
    const text = JSON.stringify(page);
    const hashes = (await sql<{ token_hash: string }>(`SELECT token_hash FROM enrollment_tokens WHERE site_id = 'kazan'`)).map((h) => h.token_hash);
    expect(hashes).toHaveLength(4);
    for (const secret of [used, expired, revoked, pending, ...hashes]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/fpe_|token"|hash/i);
    // Another site's tokens are not in it.
    expect((await list('moscow')).items.every((i) => i.siteId === 'moscow')).toBe(true);
  });

  it('pages back with ?limit and ?before', async () => {
    for (let i = 0; i < 3; i++) await issue('piter');
    const all = (await list('piter')).items.map((i) => i.id);
    const first = await list('piter', admin, '?limit=2');
    expect(first.items.map((i) => i.id)).toEqual(all.slice(0, 2));
    expect(first.next).toBe(all[1]);
    const second = await list('piter', admin, `?limit=2&before=${first.next}`);
    expect(second.items.map((i) => i.id)).toEqual(all.slice(2, 4));
    expect((await list('piter', admin, '?before=not-an-id')).items).toEqual([]);
    expect((await t.request('GET', '/api/v1/sites/piter/enrollment-tokens?limit=0', undefined, admin)).status).toBe(400);
  });

  it('refuses a revoked token at enrollment exactly as an unknown one, and audits the revocation once', async () => {
    const token = await issue('moscow');
    const id = await newest('moscow');
    const r = await revoke(id);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ dryRun: false, data: expect.objectContaining({ id, state: 'revoked', revokedBy: 'admin' }) });
    EnrollmentToken.parse(r.body['data']);

    const refused = await enroll(token);
    const unknown = await enroll(`fpe_${'x'.repeat(43)}`);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual(unknown.body);
    expect(refused.body).toEqual({ error: { code: 'unauthenticated', message: 'enrollment token unknown' } });
    const [row] = await sql<{ used_at: Date | null }>(`SELECT used_at FROM enrollment_tokens WHERE id = $1`, [id]);
    expect(row?.used_at).toBeNull();

    // Again: the same answer, the first revocation kept, no second audit entry.
    const again = await revoke(id);
    expect(again.status).toBe(200);
    expect(again.body['data']).toEqual(r.body['data']);
    const audit = await t.request('GET', '/api/v1/audit?limit=100', undefined, admin);
    const entries = (audit.body['items'] as { action: string; objectId: string; actor: string; siteIds: string[]; before: unknown; after: unknown }[]).filter((e) => e.objectId === id);
    expect(entries.map((e) => e.action)).toEqual(['enrollmentToken.revoke', 'enrollmentToken.create']);
    expect(entries[0]).toMatchObject({ actor: 'admin', siteIds: ['moscow'], before: { state: 'pending' }, after: { state: 'revoked' } });
    expect(JSON.stringify(entries)).not.toContain(token);
  });

  it('revokes an expired token too, and previews a revocation with ?dryRun=true without writing it', async () => {
    await issue('moscow');
    const id = await newest('moscow');
    const dry = await revoke(id, admin, '?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, data: { id, state: 'revoked', revokedBy: 'admin' } });
    expect((await list('moscow', admin, '?limit=1')).items[0]).toMatchObject({ id, state: 'pending', revokedAt: null });

    await sql(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect((await list('moscow', admin, '?limit=1')).items[0]?.state).toBe('expired');
    expect((await revoke(id)).body['data']).toMatchObject({ state: 'revoked' });
  });

  it('refuses to revoke a used token (409 state-conflict) and leaves it used', async () => {
    const token = await issue('moscow');
    const id = await newest('moscow');
    expect((await enroll(token)).status).toBe(200);
    for (const query of ['', '?dryRun=true']) {
      const r = await revoke(id, admin, query);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'state-conflict', objectType: 'enrollmentToken', id, state: 'used', message: expect.stringContaining('cannot be revoked') });
    }
    expect((await list('moscow', admin, '?limit=1')).items[0]).toMatchObject({ id, state: 'used', revokedAt: null });
  });

  it('ends a token used or revoked, never both, when enrollment and revocation race', async () => {
    for (let i = 0; i < 8; i++) {
      const token = await issue('moscow');
      const id = await newest('moscow');
      const [e, r] = await Promise.all([enroll(token), revoke(id)]);
      const state = (await list('moscow', admin, '?limit=1')).items[0]?.state;
      // Enrollment first: the revocation finds it used. Revocation first: enrollment finds no such token.
      expect(['200/409/used', '401/200/revoked']).toContain(`${e.status}/${r.status}/${state}`);
    }
  });

  it('lets readers of the site list its tokens and only head office revoke them', async () => {
    await issue('moscow');
    const own = await newest('moscow');
    await issue('piter');
    const foreign = await newest('piter');
    for (const token of [as.siteAdmin, as.viewer]) {
      expect((await list('moscow', token)).items.length).toBeGreaterThan(0);
      expect((await t.request('GET', '/api/v1/sites/piter/enrollment-tokens', undefined, token)).status).toBe(404);
      const refused = await revoke(own, token);
      expect(refused.status).toBe(403);
      expect(refused.body.error?.message).toBe('only head office revokes enrollment tokens');
      // A token of a site out of sight does not exist for the caller, whatever its state.
      expect((await revoke(foreign, token)).status).toBe(404);
    }
    expect((await list('moscow', admin, '?limit=1')).items[0]).toMatchObject({ id: own, state: 'pending' });
    expect((await t.request('GET', '/api/v1/sites/nowhere/enrollment-tokens', undefined, admin)).status).toBe(404);
    expect((await revoke('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await revoke('not-a-token-id')).status).toBe(404);
    expect((await t.request('GET', '/api/v1/sites/moscow/enrollment-tokens')).status).toBe(401);
  });

  it('describes both routes and their answers in the OpenAPI document', async () => {
    const doc = (await t.request('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters: { name: string }[] }>>; components: { schemas: Record<string, unknown> } };
    const get = doc.paths['/api/v1/sites/{siteId}/enrollment-tokens']?.['get'];
    expect(get?.responses['200']).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/EnrollmentTokenPage' } } } });
    expect(get?.parameters.map((p) => p.name)).toEqual(['siteId', 'limit', 'before']);
    const del = doc.paths['/api/v1/enrollment-tokens/{id}']?.['delete'];
    expect(del?.responses['200']).toMatchObject({ content: { 'application/json': { schema: { properties: { data: { $ref: '#/components/schemas/EnrollmentToken' } } } } } });
    expect(del?.responses['409']).toBeDefined();
    expect(doc.components.schemas['EnrollmentToken']).toMatchObject({ required: expect.arrayContaining(['state', 'revokedAt']) });
  });
});

describe(`migration EnrollmentTokenRevocation on a database with tokens (${testDatabaseLabel()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('keeps existing tokens as they were (not revoked), and its down migration expires revoked tokens instead of reviving them', async () => {
    // Up to this migration only: later ones are other tests' business.
    const upTo = MIGRATIONS.findIndex((m) => m.name === 'EnrollmentTokenRevocation1795910000000');
    // Options of its own for each DataSource: an embedded database's driver (its PGlite) ends with its DataSource.
    const options = () => ({ ...dataSourceOptions(db.settings), migrations: MIGRATIONS.slice(0, upTo + 1) });
    const before = await new DataSource({ ...options(), migrations: MIGRATIONS.slice(0, upTo) }).initialize();
    await before.runMigrations();
    await before.query(
      `INSERT INTO sites (id, name, timezone, class_of_service_ceiling, emergency_numbers, network, recording, ring_timeout_sec)
       VALUES ('moscow', 'Moscow', 'Europe/Moscow', '[]', '[]', '{}', '{}', 30)`,
    );
    await before.query(
      `INSERT INTO enrollment_tokens (site_id, token_hash, created_by, expires_at, used_at) VALUES
       ('moscow', 'h-used', 'admin', now() + interval '1 day', now()),
       ('moscow', 'h-pending', 'admin', now() + interval '1 day', NULL),
       ('moscow', 'h-revoked', 'admin', now() + interval '1 day', NULL)`,
    );
    await before.destroy();

    const ds = await new DataSource(options()).initialize();
    try {
      expect((await ds.runMigrations()).map((m) => m.name)).toEqual(['EnrollmentTokenRevocation1795910000000']);
      const rows = await ds.query(`SELECT token_hash, revoked_at, revoked_by FROM enrollment_tokens ORDER BY token_hash`);
      expect(rows).toEqual(['h-pending', 'h-revoked', 'h-used'].map((h) => ({ token_hash: h, revoked_at: null, revoked_by: null })));
      // The constraints hold: never used and revoked, never revoked by nobody.
      await expect(ds.query(`UPDATE enrollment_tokens SET revoked_at = now(), revoked_by = 'admin' WHERE token_hash = 'h-used'`)).rejects.toThrow(/CHK_enrollment_tokens_used_or_revoked/);
      await expect(ds.query(`UPDATE enrollment_tokens SET revoked_at = now() WHERE token_hash = 'h-pending'`)).rejects.toThrow(/CHK_enrollment_tokens_revoked_by/);
      await ds.query(`UPDATE enrollment_tokens SET revoked_at = now() - interval '1 minute', revoked_by = 'admin' WHERE token_hash = 'h-revoked'`);

      await ds.undoLastMigration();
      const after: { token_hash: string; expired: boolean; used: boolean }[] = await ds.query(
        `SELECT token_hash, expires_at <= now() AS expired, used_at IS NOT NULL AS used FROM enrollment_tokens ORDER BY token_hash`,
      );
      expect(after).toEqual([
        { token_hash: 'h-pending', expired: false, used: false },
        { token_hash: 'h-revoked', expired: true, used: false },
        { token_hash: 'h-used', expired: false, used: true },
      ]);
      expect(await ds.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'enrollment_tokens' AND column_name LIKE 'revoked%'`)).toEqual([]);
      await ds.runMigrations();
    } finally {
      await ds.destroy();
    }
  });
});
