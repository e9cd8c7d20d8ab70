import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { dataSourceOptions } from '../../apps/controller/src/database/data-source-options.js';
import { groupEvents } from '../../apps/controller/src/ingest/event-batch.js';
import { EventStore } from '../../apps/controller/src/ingest/event-store.js';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { CDR_BATCH_MAX_BYTES, Subjects, type AgentEventEnvelope } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { EventIngestService } from '../../apps/controller/src/ingest/event-ingest.service.js';
import { CDRS_CONSUMER } from '../../apps/controller/src/ingest/events-stream.js';
import { cdrEnvelope } from '../../apps/controller/src/ingest/testing/cdr-envelopes.js';
import { countCdrs, waitForCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

/**
 * CDR batches (issue #21 §4): several CDR envelopes in one JetStream message on `fedpbx.cdrs.<site>`, in the
 * `FEDPBX_CDRS` stream the controller makes, stored in one statement and acknowledged after it. A private
 * nats-server (operator mode, the agent credentials the controller mints) and real PostgreSQL; the agent is a NATS
 * client. Each test uses calls of its own numbers; counts are per test.
 */
describe(`controller ingest of CDR batches (nats-server + ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let ctl: TestApp;
  let moscow: NatsConnection;
  let moscowJs: JetStreamClient;
  let admin: NatsConnection;
  let startController: () => Promise<TestApp>;

  const ds = (): DataSource => ctl.app.get(DataSource);
  const stats = () => ctl.app.get(EventIngestService).stats;
  const text = (envs: readonly (AgentEventEnvelope | string)[]): string => envs.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n');
  const publishBatch = (envs: readonly (AgentEventEnvelope | string)[], msgID: string, site = 'moscow') => moscowJs.publish(Subjects.cdrBatch(site), text(envs), { msgID });
  const calls = (from: number, count: number): AgentEventEnvelope[] => Array.from({ length: count }, (_, i) => cdrEnvelope('moscow', from + i));
  const storedIds = async (from: number, to: number): Promise<string[]> =>
    (await ds().query<{ cdr_id: string }[]>(`SELECT cdr_id FROM cdrs WHERE site_id = 'moscow' AND cdr_id = ANY($1::text[]) ORDER BY cdr_id`, [calls(from, to - from + 1).map((e) => (e.event.type === 'cdr' ? e.event.cdrId : ''))])).map((r) => r.cdr_id);
  const ids = (envs: readonly AgentEventEnvelope[]): string[] => envs.map((e) => (e.event.type === 'cdr' ? e.event.cdrId : '')).sort();
  const consumerDrained = async (): Promise<boolean> => {
    const info = await (await jetstreamManager(admin)).consumers.info(Subjects.CDRS_STREAM, CDRS_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-ingest-batches-'));
    const issuerFile = join(dir, 'issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    startController = async () => (ctl = await startTestApp({ env: { FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile, FEDPBX_EVENTS_ACK_WAIT_SEC: '2', FEDPBX_DATA_DIR: dir, ...db.env } }));
    await startController();
    await buildFoundingScenario(ctl, await ctl.login(ADMIN.username, ADMIN.password));
    moscow = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds('moscow'))), inboxPrefix: Subjects.inboxPrefix('moscow') });
    moscowJs = jetstream(moscow);
    admin = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    await until('the CDR batch stream', async () => (await jetstreamManager(admin)).streams.info(Subjects.CDRS_STREAM).then(() => true, () => false));
  }, 60_000);

  afterAll(async () => {
    await moscow?.close();
    await admin?.close();
    await ctl?.close();
    await nats?.stop();
    await db?.drop();
  });

  it('makes the batch stream beside the events stream: its own subjects, a bounded message size', async () => {
    const info = await (await jetstreamManager(admin)).streams.info(Subjects.CDRS_STREAM);
    expect(info.config).toMatchObject({ subjects: ['fedpbx.cdrs.*'], storage: 'file', max_msg_size: CDR_BATCH_MAX_BYTES, duplicate_window: 86_400 * 1e9 });
  });

  it('stores a batch in one statement and acknowledges it', async () => {
    const before = { ...stats() };
    await publishBatch(calls(100, 50), 'b-100');
    await waitForCdrs(ds(), 'moscow', 50, 10_000);
    expect(await countCdrs(ds(), 'moscow')).toEqual({ rows: 50, distinct: 50 });
    expect(stats().batches - before.batches).toBe(1);
    await until('the batch to be acknowledged', consumerDrained);
  });

  it('batches that overlap (a resend after a crash, cut elsewhere), and a CDR that also came alone, are stored once each', async () => {
    const before = { ...stats() };
    await publishBatch(calls(200, 3), 'b-200-202');
    await publishBatch(calls(201, 4), 'b-201-204'); // 201-202 again
    await moscowJs.publish(Subjects.eventSubject('moscow', 'cdr'), JSON.stringify(cdrEnvelope('moscow', 204)), { msgID: 'moscow-cdr-204' });
    await until('all five calls', async () => (await storedIds(200, 204)).length === 5 && stats().cdrsDuplicate - before.cdrsDuplicate === 3);
    expect(stats().cdrsStored - before.cdrsStored).toBe(5);
    expect(await countCdrs(ds(), 'moscow')).toEqual({ rows: 55, distinct: 55 });
  });

  it('a bad CDR in a batch is refused alone (counted, logged) and the others are stored: malformed JSON, another site, not a CDR', async () => {
    const before = { ...stats() };
    const good = calls(300, 3);
    const heartbeat = { v: 1, id: 'hb', siteId: 'moscow', at: new Date().toISOString(), event: { type: 'heartbeat', agentVersion: '1', appliedRevision: 1, uptimeSec: 1, agiSessionsActive: 0, amiConnected: true } };
    await publishBatch([good[0] as AgentEventEnvelope, '{"v":1,"id":', cdrEnvelope('piter', 301), good[1] as AgentEventEnvelope, JSON.stringify(heartbeat), good[2] as AgentEventEnvelope], 'b-300-bad');
    await until('the good CDRs', async () => (await storedIds(300, 302)).length === 3);
    expect(await storedIds(300, 302)).toEqual(ids(good));
    expect(stats().malformed - before.malformed).toBe(2);
    expect(stats().spoofed - before.spoofed).toBe(1);
    expect(await ds().query(`SELECT cdr_id FROM cdrs WHERE site_id = 'piter'`)).toEqual([]);
    await until('the batch to be acknowledged (not redelivered)', consumerDrained);
  });

  it('refuses hostile messages whole with a reason and keeps ingesting: too many lines, not UTF-8, nothing storable; an oversize one JetStream refuses', async () => {
    const before = { ...stats() };
    await moscowJs.publish(Subjects.cdrBatch('moscow'), '\n'.repeat(1000), { msgID: 'too-many-lines' });
    await moscowJs.publish(Subjects.cdrBatch('moscow'), Uint8Array.of(0xff, 0xfe, 0x0a, 0x7b), { msgID: 'not-utf8' });
    await moscowJs.publish(Subjects.cdrBatch('moscow'), text([cdrEnvelope('piter', 400)]), { msgID: 'all-spoofed' });
    await expect(moscowJs.publish(Subjects.cdrBatch('moscow'), 'x'.repeat(CDR_BATCH_MAX_BYTES + 1), { msgID: 'oversize' })).rejects.toThrow(/maximum message size exceeded|message size/i);
    await publishBatch(calls(400, 2), 'b-400');
    await until('the batch after them', async () => (await storedIds(400, 401)).length === 2);
    await until('the refusals', () => stats().malformed - before.malformed === 2 && stats().spoofed - before.spoofed === 1);
    await until('every message settled (the refused ones terminated)', consumerDrained);
  });

  it('a batch committed by a controller that died before the ack comes back and is stored once', async () => {
    await ctl.close();
    const batch = calls(500, 20);
    await publishBatch(batch, 'b-500');
    // Play the controller up to the crash: take the batch from the shared consumer, store it as the ingest does, vanish.
    const crashing = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
    const taken = await (await jetstream(crashing).consumers.get(Subjects.CDRS_STREAM, CDRS_CONSUMER)).next({ expires: 5000 });
    expect(taken?.string()).toBe(text(batch));
    const direct = await new DataSource(dataSourceOptions(db.settings)).initialize();
    await new EventStore().insertCdrsOfKnownSites(direct.manager, groupEvents(batch).cdrs);
    await direct.destroy();
    await crashing.close();

    await startController();
    await until('the redelivery (ack wait 2 s) to be acknowledged', async () => stats().cdrsDuplicate === 20 && (await consumerDrained()), 20_000);
    expect(stats().cdrsStored).toBe(0);
    expect(await storedIds(500, 519)).toEqual(ids(batch));
  }, 60_000);
});
