import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, TEST_ADMIN, type ControllerProcess } from '../support/controller-process.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { until } from '../support/until.js';

/** A write is answered (any status) within this, or it hung. */
const ANSWER_WITHIN_MS = 8000;

/**
 * Two controller processes on one PostgreSQL of the test's own, which the test stops and starts again: while it is
 * down every write is refused at once with 503 `database-unavailable` and /readyz names the database; once it is
 * back, writes work again on both - the same processes, never restarted (the pool reconnects on demand).
 */
describe('controller replicas across a PostgreSQL restart (private postgres, two controller processes)', () => {
  let pg: PrivatePostgres;
  const replicas: ControllerProcess[] = [];
  let token: string;

  const write = async (c: ControllerProcess, n: number) => {
    const t0 = performance.now();
    const r = await Promise.race([
      c.api('POST', '/api/v1/sites', { id: `site-${n}`, name: `Site ${n}` }, token),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`write ${n} hung for ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS)),
    ]);
    return { ...r, ms: performance.now() - t0 };
  };

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    // No FEDPBX_TOKEN_SECRET: the replicas share the access-token key kept in the database.
    const env = { DATABASE_URL: await pg.createDatabase('fedpbx_restart'), FEDPBX_TOKEN_SECRET: '', FEDPBX_DATABASE_CONNECT_TIMEOUT_MS: '2000', FEDPBX_LOG_LEVEL: 'warn' };
    // Started together: one runs the migrations and makes the admin while the other waits for the migration lock.
    replicas.push(...(await Promise.all([startController(env), startController(env)])));
    token = await replicas[0]!.adminToken();
  }, 90_000);

  afterAll(async () => {
    for (const c of replicas) await c.stop();
    await pg?.destroy();
  });

  it('answers 503 at once while the database is down, and serves writes again after it is back without a restart', async () => {
    const [a, b] = replicas as [ControllerProcess, ControllerProcess];
    const pids = [a.pid(), b.pid()];
    // A token one replica issued works at the other (no sticky sessions).
    expect((await write(b, 1)).status).toBe(201);
    expect((await write(a, 2)).status).toBe(201);
    for (const c of replicas) expect((await c.api('GET', '/readyz')).body).toEqual({ status: 'ready', checks: { database: 'up', nats: 'not-configured' } });

    await pg.stop();
    for (const [i, c] of replicas.entries()) {
      const r = await write(c, 10 + i);
      expect(r.status).toBe(503);
      expect((r.body as { error: { code: string } }).error.code).toBe('database-unavailable');
      expect(r.ms).toBeLessThan(ANSWER_WITHIN_MS);
      const ready = await c.api('GET', '/readyz');
      expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', down: ['database'], checks: { database: 'down' } } });
      expect((await c.api('GET', '/healthz')).status).toBe(200);
    }
    // Login needs the database too: refused the same way, not a 500.
    expect((await a.api('POST', '/api/v1/auth/login', TEST_ADMIN)).status).toBe(503);

    await pg.start();
    for (const [i, c] of replicas.entries()) {
      await until(`replica ${i} writes again`, async () => ((await write(c, 20 + i)).status === 201 ? true : undefined), 30_000);
      expect((await c.api('GET', '/readyz')).status).toBe(200);
    }
    // The writes refused during the outage were not made; the others were, once each.
    const sites = await a.api<{ items: { id: string }[] }>('GET', '/api/v1/sites', undefined, token);
    expect(sites.body.items.map((s) => s.id).sort()).toEqual(['site-1', 'site-2', 'site-20', 'site-21']);
    expect([a.pid(), b.pid()]).toEqual(pids);
  }, 90_000);
});
