import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';
import { startSyncedController } from '../sync/controller-harness.js';

/** /readyz names NATS while the controller cannot reach it, and is ready again after NATS is back (no restart). */
describe(`controller readiness across a NATS outage (private nats-server, ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let t: TestApp;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    t = await startSyncedController(nats, db.url !== undefined ? { databaseUrl: db.url } : {});
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await nats?.stop();
    await db?.drop();
  });

  it('answers 503 naming nats while it is down and 200 once it is back; liveness stays 200', async () => {
    await until('ready', async () => (await t.request('GET', '/readyz')).status === 200, 20_000);
    expect((await t.request('GET', '/readyz')).body).toEqual({ status: 'ready', checks: { database: 'up', nats: 'up' } });

    await nats.kill();
    const down = await until('not ready', async () => {
      const r = await t.request('GET', '/readyz');
      return r.status === 503 ? r : undefined;
    }, 20_000);
    expect(down.body).toEqual({ status: 'unavailable', down: ['nats'], checks: { database: 'up', nats: 'down' } });
    expect((await t.request('GET', '/healthz')).status).toBe(200);

    await nats.start();
    await until('ready again', async () => (await t.request('GET', '/readyz')).status === 200, 30_000);
  }, 90_000);
});
