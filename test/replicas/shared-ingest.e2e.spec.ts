import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_CONSUMER } from '../../apps/controller/src/ingest/events-stream.js';
import { countCdrs, publishCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import type { ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';
import { replicaEnv, startReplicas } from './replicas-harness.js';

const SITES = ['moscow', 'piter'] as const;
const PER_SITE = 3000;

/**
 * Event ingest shared by two controller processes: both pull from the one durable JetStream consumer, each batch
 * is acknowledged after its commit. One replica is killed with SIGKILL while the CDRs flow; what it had taken and
 * not acknowledged comes back after the ack wait and the survivor stores it. Every CDR ends in PostgreSQL once:
 * 0 lost, 0 doubled.
 */
describe('controller replicas: shared event ingest, one killed mid-flood (PostgreSQL, nats-server, two controller processes)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let replicas: ControllerProcess[];
  let sql: pg.Client;
  /** countCdrs wants rows back, as a DataSource answers. */
  const rowsOf = { query: async (text: string, params?: unknown[]) => (await sql.query(text, params)).rows };
  let probe: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase({ require: 'postgres' });
    replicas = await startReplicas(replicaEnv(nats, db.url ?? '', { FEDPBX_EVENTS_ACK_WAIT_SEC: '2' }), 2);
    const token = await replicas[0]!.adminToken();
    for (const id of SITES) expect((await replicas[0]!.api('POST', '/api/v1/sites', { id, name: id }, token)).status).toBe(201);
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    probe = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
  }, 120_000);

  afterAll(async () => {
    await probe?.close();
    await sql?.end();
    for (const c of replicas ?? []) await c.stop();
    await nats?.stop();
    await db?.drop();
  });

  it(`stores ${SITES.length * PER_SITE} CDRs exactly once while one of the two consuming replicas dies`, async () => {
    const jsm = await jetstreamManager(probe);
    // Both replicas pull from the one durable consumer (each keeps a pull request waiting).
    await until('both replicas pulling', async () => ((await jsm.consumers.info(Subjects.EVENTS_STREAM, INGEST_CONSUMER).catch(() => undefined))?.num_waiting ?? 0) >= 2, 20_000);

    const agents = await Promise.all(
      SITES.map(async (siteId) => connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds(siteId))), inboxPrefix: Subjects.inboxPrefix(siteId) })),
    );
    const stored = async (): Promise<number> => {
      let n = 0;
      for (const siteId of SITES) n += (await countCdrs(rowsOf, siteId)).rows;
      return n;
    };
    const flood = Promise.all(SITES.map((siteId, i) => publishCdrs(agents[i]!, siteId, PER_SITE, { window: 50 })));
    await until('a quarter stored', async () => (await stored()) >= (SITES.length * PER_SITE) / 4, 60_000);
    process.kill(replicas[0]!.pid() ?? 0, 'SIGKILL');
    const { length: published } = await flood;
    expect(published).toBe(SITES.length);
    for (const nc of agents) await nc.close();

    await until('every CDR stored', async () => (await stored()) >= SITES.length * PER_SITE, 90_000);
    // A moment for a late redelivery to (not) add a row twice.
    await new Promise((r) => setTimeout(r, 3000));
    for (const siteId of SITES) expect(await countCdrs(rowsOf, siteId)).toEqual({ rows: PER_SITE, distinct: PER_SITE });
    const info = await jsm.consumers.info(Subjects.EVENTS_STREAM, INGEST_CONSUMER);
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  }, 180_000);
});
