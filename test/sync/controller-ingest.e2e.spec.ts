import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects, type AgentEventEnvelope } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { groupEvents } from '../../apps/controller/src/ingest/event-batch.js';
import { EventIngestService } from '../../apps/controller/src/ingest/event-ingest.service.js';
import { EventStore } from '../../apps/controller/src/ingest/event-store.js';
import { INGEST_CONSUMER } from '../../apps/controller/src/ingest/events-stream.js';
import { cdrEnvelope } from '../../apps/controller/src/ingest/testing/cdr-envelopes.js';
import { countCdrs, publishCdrs, waitForCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { dataSourceOptions } from '../../apps/controller/src/database/data-source-options.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

/**
 * The controller's event ingest against a private nats-server (operator mode, per-agent permissions) and real
 * PostgreSQL. Agents are played by NATS clients holding the agent credentials the controller would mint.
 * One database across controller restarts, as in production.
 */
describe(`controller event ingest (nats-server + ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let issuerFile: string;
  let ctl: TestApp | undefined;
  let moscow: NatsConnection;
  let moscowJs: JetStreamClient;
  let admin: NatsConnection;
  let token: string;

  // One data dir across restarts, as in production: it holds the snapshot signing key, and a controller with another
  // key than the one the database recorded refuses to start.
  let dataDir: string | undefined;
  const startController = async (): Promise<TestApp> => {
    dataDir ??= mkdtempSync(join(tmpdir(), 'fedpbx-ingest-'));
    ctl = await startTestApp({
      // db.env last: on the embedded database its data dir is the database, kept across the controller's restarts.
      env: { FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile, FEDPBX_EVENTS_ACK_WAIT_SEC: '2', FEDPBX_DATA_DIR: dataDir, ...db.env },
    });
    return ctl;
  };
  const stopController = async (): Promise<void> => {
    await ctl?.close();
    ctl = undefined;
  };
  const ds = (): DataSource => (ctl as TestApp).app.get(DataSource);
  const sql = <T>(q: string, params: unknown[] = []): Promise<T[]> => ds().query(q, params);
  const stats = () => (ctl as TestApp).app.get(EventIngestService).stats;
  const agentConnection = async (siteId: string): Promise<NatsConnection> =>
    connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds(siteId))), inboxPrefix: Subjects.inboxPrefix(siteId), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const publish = (js: JetStreamClient, env: AgentEventEnvelope, subjectSite = env.siteId) =>
    js.publish(Subjects.eventSubject(subjectSite, env.event.type), JSON.stringify(env), { msgID: env.id });
  /** Every message the stream holds was delivered and acknowledged (or terminated). */
  const consumerDrained = async (): Promise<boolean> => {
    const info = await (await jetstreamManager(admin)).consumers.info(Subjects.EVENTS_STREAM, INGEST_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-ingest-issuer-'));
    issuerFile = join(dir, 'issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    const t = await startController();
    token = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, token);
    moscow = await agentConnection('moscow');
    moscowJs = jetstream(moscow);
    admin = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await until('the events stream', async () => (await (await jetstreamManager(admin)).streams.info(Subjects.EVENTS_STREAM).then(() => true, () => false)));
  }, 60_000);

  afterAll(async () => {
    await moscow?.close();
    await admin?.close();
    await stopController();
    await nats?.stop();
    await db?.drop();
  });

  it('creates the stream with file storage, a long dedupe window and a max age', async () => {
    const info = await (await jetstreamManager(admin)).streams.info(Subjects.EVENTS_STREAM);
    expect(info.config).toMatchObject({ subjects: ['fedpbx.events.>'], storage: 'file', duplicate_window: 86_400 * 1e9, max_age: 14 * 86_400 * 1e9 });
  });

  it('stores a CDR published twice with the same msg-id once, and a re-publish under a new msg-id once', async () => {
    const env = cdrEnvelope('moscow', 1);
    expect((await publish(moscowJs, env)).duplicate).toBe(false);
    expect((await publish(moscowJs, env)).duplicate).toBe(true);
    // After the dedupe window an agent's retry would carry the same CDR id: the database key catches it.
    const before = stats().cdrsDuplicate;
    await publish(moscowJs, { ...env, id: 'moscow-cdr-1-retry' });
    await until('the re-publish', () => stats().cdrsDuplicate > before);
    expect(await countCdrs(ds(), 'moscow')).toEqual({ rows: 1, distinct: 1 });
    const [row] = await sql<{ event_id: string; src: string; route_kind: string }>(`SELECT event_id, src, route_kind FROM cdrs WHERE site_id = 'moscow'`);
    expect(row).toEqual({ event_id: 'moscow-cdr-1', src: '101', route_kind: 'site' });
  });

  it('refuses a spoofed envelope and garbage bytes, and the stream keeps flowing', async () => {
    const s0 = { ...stats() };
    const spoofed = cdrEnvelope('piter', 900, { id: 'spoof-1' });
    // The moscow agent may publish only under fedpbx.events.moscow.> (nats-server enforces it); it claims piter inside.
    await publish(moscowJs, spoofed, 'moscow');
    await moscowJs.publish(Subjects.eventSubject('moscow', 'cdr'), Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x00), { msgID: 'garbage-1' });
    await moscowJs.publish(Subjects.eventSubject('moscow', 'cdr'), '{"v":1,"id":"x"}', { msgID: 'garbage-2' });
    await publish(moscowJs, cdrEnvelope('moscow', 2));
    await waitForCdrs(ds(), 'moscow', 2, 10_000);
    await until('the rejections', () => stats().spoofed === s0.spoofed + 1 && stats().malformed === s0.malformed + 2);
    expect(await sql(`SELECT cdr_id FROM cdrs WHERE site_id = 'piter'`)).toEqual([]);
    expect(await countCdrs(ds(), 'moscow')).toEqual({ rows: 2, distinct: 2 });
    await until('the consumer to hold nothing back (terminated, not redelivered)', consumerDrained);
  });

  it('keeps the newest status whatever order the events arrive in', async () => {
    const now = Date.now();
    const at = (agoSec: number) => new Date(now - agoSec * 1000).toISOString();
    const hb = (agoSec: number, appliedRevision: number): AgentEventEnvelope => ({
      v: 1,
      id: `moscow-hb-${agoSec}`,
      siteId: 'moscow',
      at: at(agoSec),
      event: { type: 'heartbeat', agentVersion: '1.2.3', appliedRevision, uptimeSec: 100 - agoSec, agiSessionsActive: 2, amiConnected: true, alarms: agoSec === 1 ? [alarm] : [] },
    });
    // The alarm the agent raises when Asterisk could not start fedpbx's transport (carried by the newest heartbeat).
    const alarm = { code: 'pjsip-transport-failed', severity: 'critical' as const, message: 'fedpbx-transport (10.77.0.1:5060) not started: admin transport transport-udp binds 0.0.0.0:5060', since: at(30) };
    const link = (agoSec: number, state: 'up' | 'down'): AgentEventEnvelope => ({ v: 1, id: `moscow-link-${agoSec}`, siteId: 'moscow', at: at(agoSec), event: { type: 'link.status', peerSiteId: 'piter', state, source: 'ami', rttMs: 12 } });
    const trunk = (agoSec: number, state: 'up' | 'down'): AgentEventEnvelope => ({ v: 1, id: `moscow-trunk-${agoSec}`, siteId: 'moscow', at: at(agoSec), event: { type: 'trunk.status', trunkId: 't-moscow-city', state, registration: state === 'up' ? 'Registered' : 'Rejected' } });
    // Newest first, then older ones (a backlog drained late): the older ones must not win.
    for (const env of [hb(1, 7), link(1, 'down'), trunk(1, 'up')]) await publish(moscowJs, env);
    const applied = async () => ((await (ctl as TestApp).request('GET', '/api/v1/agents/moscow', undefined, token)).body['data'] as { appliedRevision: number | null }).appliedRevision;
    await until('the newest status', async () => (await applied()) === 7);
    const drainedBefore = stats().statusEvents;
    for (const env of [hb(20, 5), link(20, 'up'), trunk(20, 'down')]) await publish(moscowJs, env);
    await until('the older events to be processed', () => stats().statusEvents >= drainedBefore + 3);
    const r = await (ctl as TestApp).request('GET', '/api/v1/agents/moscow', undefined, token);
    expect(r.status).toBe(200);
    expect(r.body['data']).toEqual({
      siteId: 'moscow',
      online: true,
      lastSeenAt: at(1),
      agentVersion: '1.2.3',
      appliedRevision: 7,
      uptimeSec: 99,
      agiSessionsActive: 2,
      amiConnected: true,
      alarms: [alarm],
      links: [{ peerSiteId: 'piter', state: 'down', source: 'ami', rttMs: 12, at: at(1) }],
      trunks: [{ trunkId: 't-moscow-city', state: 'up', registration: 'Registered', at: at(1) }],
      warnings: [],
    });
  });

  it('records snapshot.applied and snapshot.refused with the rollout in the same transaction', async () => {
    const at = new Date().toISOString();
    await publish(moscowJs, { v: 1, id: 'moscow-applied-1', siteId: 'moscow', at, event: { type: 'snapshot.applied', revision: 1, contentHash: 'h1' } });
    await publish(moscowJs, { v: 1, id: 'moscow-refused-2', siteId: 'moscow', at, event: { type: 'snapshot.refused', revision: 2, reason: 'bad signature' } });
    await until('the rollout record', async () => (await sql<{ refused_revision: number | null }>(`SELECT refused_revision FROM site_rollouts WHERE site_id = 'moscow'`))[0]?.refused_revision === 2);
    const [row] = await sql(`SELECT applied_revision, refused_revision, refused_reason FROM site_rollouts WHERE site_id = 'moscow'`);
    expect(row).toEqual({ applied_revision: 1, refused_revision: 2, refused_reason: 'bad signature' });
  });

  it('acknowledges and drops events of a site that does not exist', async () => {
    const ghost = await agentConnection('ghost');
    const piter = await agentConnection('piter');
    try {
      const before = stats().unknownSite;
      // Published back to back, so the two usually share a batch: the known site's CDR is stored all the same.
      const known = cdrEnvelope('piter', 60);
      await Promise.all([publish(jetstream(ghost), cdrEnvelope('ghost', 1)), publish(jetstream(piter), known)]);
      await until('the ghost event', () => stats().unknownSite > before);
      await until('the known site\'s CDR', async () => (await sql(`SELECT 1 FROM cdrs WHERE site_id = 'piter' AND cdr_id = '${known.event.type === 'cdr' ? known.event.cdrId : ''}'`)).length === 1);
      expect(stats().unknownSite).toBe(before + 1);
      expect(await sql(`SELECT cdr_id FROM cdrs WHERE site_id = 'ghost'`)).toEqual([]);
      await until('the consumer to hold nothing back', consumerDrained);
    } finally {
      await ghost.close();
      await piter.close();
    }
  });

  it('stores once a batch redelivered after the controller committed it and died before the ack', async () => {
    await stopController();
    const env = cdrEnvelope('moscow', 50);
    await publish(moscowJs, env);
    // Play the controller up to the crash: take the message from the durable consumer, commit it the way the
    // ingest does, and vanish without acknowledging it.
    const crashing = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    const consumer = await jetstream(crashing).consumers.get(Subjects.EVENTS_STREAM, INGEST_CONSUMER);
    const taken = await consumer.next({ expires: 5000 });
    expect(taken?.json()).toEqual(env);
    const ds = await new DataSource(dataSourceOptions(db.settings)).initialize();
    await ds.transaction((m) => new EventStore().write(m, groupEvents([env])));
    await ds.destroy();
    await crashing.close();

    const t = await startController();
    await until('the redelivery (ack wait 2 s) to be acknowledged', async () => stats().cdrsDuplicate >= 1 && (await consumerDrained()), 20_000);
    expect(await countCdrs(t.app.get(DataSource), 'moscow')).toEqual({ rows: 3, distinct: 3 });
  });

  it('stores all 1,000 CDRs published while the controller was down exactly once after it starts', async () => {
    await stopController();
    await publishCdrs(moscow, 'moscow', 1000, { from: 1000 });
    const t = await startController();
    const stored = await waitForCdrs(t.app.get(DataSource), 'moscow', 3 + 1000, 30_000);
    expect(stored).toMatchObject({ rows: 1003, distinct: 1003 });
    await until('the consumer to be drained', consumerDrained);
    expect(await countCdrs(t.app.get(DataSource), 'moscow')).toEqual({ rows: 1003, distinct: 1003 });
  }, 60_000);

  it('resumes after a NATS outage without losing or doubling events', async () => {
    await nats.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await nats.start();
    // The agent's client reconnects by itself; its publishes after the outage reach the stream and the controller.
    await until('the agent to reconnect', async () => (await publishCdrs(moscow, 'moscow', 1, { from: 5000 }).then(() => true, () => false)), 20_000);
    await publishCdrs(moscow, 'moscow', 200, { from: 5000 });
    const stored = await waitForCdrs(ds(), 'moscow', 1003 + 200, 30_000);
    expect(stored).toMatchObject({ rows: 1203, distinct: 1203 });
  }, 60_000);
});
