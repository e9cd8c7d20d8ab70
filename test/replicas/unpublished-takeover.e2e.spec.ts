import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnpublishedRevisionsWatch, TAKEOVER_AFTER_SEC } from '../../apps/controller/src/replicas/unpublished-revisions.js';
import { SnapshotPublisher } from '../../apps/controller/src/sync/snapshot-publisher.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';
import { startSyncedController } from '../sync/controller-harness.js';
import { BucketReader } from './replicas-harness.js';

/**
 * The replica that commits a write publishes it; when it cannot (it died right after the commit - here its
 * publisher is stopped, the same state without a kill), another replica publishes the revision once it is
 * TAKEOVER_AFTER_SEC old, and not before (the committing replica normally does it within a second).
 */
describe('controller replicas: a revision the committing replica did not publish is published by another (PostgreSQL, nats-server, two controllers)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let a: TestApp & { dataDir: string };
  let b: TestApp & { dataDir: string };
  let buckets: BucketReader;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase({ require: 'postgres' });
    a = await startSyncedController(nats, { databaseUrl: db.url ?? '' });
    // The same data dir: the same snapshot signing key, as every replica must have.
    b = await startSyncedController(nats, { databaseUrl: db.url ?? '', dataDir: a.dataDir });
    await buildFoundingScenario(a, await a.login(ADMIN.username, ADMIN.password));
    buckets = new BucketReader(nats);
    await a.app.get(SnapshotPublisher).idle();
  }, 120_000);

  afterAll(async () => {
    await buckets?.close();
    await b?.close();
    await a?.close();
    await nats?.stop();
    await db?.drop();
  });

  it(`publishes it after ${TAKEOVER_AFTER_SEC} s, from the other replica`, async () => {
    const watch = b.app.get(UnpublishedRevisionsWatch);
    await until('founding scenario published', async () => (await watch.look()).length === 0 && (await buckets.revision('piter')) > 0, 30_000);
    const before = await buckets.revision('piter');

    // Replica a commits and then publishes nothing more.
    await a.app.get(SnapshotPublisher).beforeApplicationShutdown();
    const token = await a.login(ADMIN.username, ADMIN.password);
    const committedAt = Date.now();
    const r = await a.request('POST', '/api/v1/extensions', { id: 'e-p310', siteId: 'piter', number: '310', displayName: 'Takeover', sipSecret: 'p310-secret-XYZ' }, token);
    expect(r.status).toBe(201);
    const revision = (r.body['revisions'] as { siteId: string; revision: number }[] | undefined)?.find((x) => x.siteId === 'piter')?.revision ?? 0;
    expect(revision).toBeGreaterThan(before);

    // b's watch (every 2 s) publishes it - once it is old enough, never before (the committing replica may still be at it).
    await until(`piter at revision ${revision} in its bucket`, async () => (await buckets.revision('piter')) === revision, 30_000);
    expect(Date.now() - committedAt).toBeGreaterThanOrEqual(TAKEOVER_AFTER_SEC * 1000);
    await until('nothing left unpublished', async () => (await watch.look()).length === 0, 20_000);
  }, 60_000);
});
