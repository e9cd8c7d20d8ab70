import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { EventIngestService } from '../../apps/controller/src/ingest/event-ingest.service.js';
import { INGEST_CONSUMER } from '../../apps/controller/src/ingest/events-stream.js';
import { publishCdrs, waitForCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';

/** Backlog size; FEDPBX_MEASURE_CDRS=50000 for a longer measurement. */
const N = Number(process.env['FEDPBX_MEASURE_CDRS'] ?? 10_000);

/**
 * A controller that was down while N CDRs piled up in JetStream drains them into PostgreSQL exactly once; the
 * clock runs from its start to the last row stored and the rate is printed (one JSON line) for the report.
 */
describe(`controller CDR backlog ingest (nats-server + ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let env: Record<string, string>;
  let ctl: TestApp | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-measure-'));
    const issuerFile = join(dir, 'issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    env = { FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile, FEDPBX_DATA_DIR: dir, FEDPBX_LOG_LEVEL: 'warn', ...db.env };
    ctl = await startTestApp({ env });
    const token = await ctl.login(ADMIN.username, ADMIN.password);
    expect((await ctl.request('POST', '/api/v1/sites', { id: 'moscow', name: 'Moscow' }, token)).status).toBe(201);
    // The ingest creates the stream and its durable consumer at start: wait for them before the controller goes down.
    const probe = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    const jsm = await jetstreamManager(probe);
    const deadline = Date.now() + 10_000;
    while (!(await jsm.consumers.info(Subjects.EVENTS_STREAM, INGEST_CONSUMER).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error('the ingest did not create its consumer');
      await new Promise((r) => setTimeout(r, 50));
    }
    await probe.close();
    await ctl.close();
    ctl = undefined;
  }, 60_000);

  afterAll(async () => {
    await ctl?.close();
    await nats?.stop();
    await db?.drop();
  });

  it(`stores a backlog of ${N} CDRs exactly once`, async () => {
    const agent = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds('moscow'))), inboxPrefix: Subjects.inboxPrefix('moscow') });
    const p0 = performance.now();
    const { duplicates } = await publishCdrs(agent, 'moscow', N);
    const publishMs = performance.now() - p0;
    await agent.close();
    expect(duplicates).toBe(0);

    const t0 = performance.now();
    ctl = await startTestApp({ env });
    const stored = await waitForCdrs(ctl.app.get(DataSource), 'moscow', N, 120_000);
    const ingestMs = performance.now() - t0;
    const stats = ctl.app.get(EventIngestService).stats;
    process.stdout.write(
      `${JSON.stringify({ cdrs: N, publish_per_s: Math.round(N / (publishMs / 1000)), cdr_ingest_per_s: Math.round(stored.rows / (ingestMs / 1000)), cdr_lost: N - stored.distinct, cdr_duplicated: stored.rows - stored.distinct, batches: stats.batches })}\n`,
    );
    expect(stored).toMatchObject({ rows: N, distinct: N });
    expect(stats.cdrsStored).toBe(N);
  }, 180_000);
});
