// The CDR publisher builds each envelope's text around the outbox line as stored (no second schema pass, no second
// encoding): what reaches JetStream must still be the envelope the controller takes, and a line that is not a CDR
// must still be skipped, counted and logged - in order, with the lines around it sent. Private nats-server with
// the agent's real permissions; the controller's side reads the stream with the controller's schema.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentEventEnvelope, Subjects, type CdrEvent } from '@fedpbx/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { CdrOutbox, cdrDir } from '../../apps/agent/src/state/cdr-outbox.js';
import { CdrOutboxPruner } from '../../apps/agent/src/sync/cdr-outbox-pruner.js';
import { CdrPublisher } from '../../apps/agent/src/sync/cdr-publisher.js';
import { envelope, eventId } from '../../apps/agent/src/sync/event-envelope.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import { agentPermissions, mintUserCreds } from '@fedpbx/nats-auth';
import { startNatsServer } from '../support/nats-server.js';
import { controllerSide, writeAgentCreds } from './agent-harness.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const cdr = (n: number): CdrEvent => ({
  type: 'cdr',
  cdrId: `moscow-1795696107.${n}:1`,
  uniqueId: `moscow-1795696107.${n}`,
  linkedId: `moscow-1795696107.${n}`,
  start: '2026-12-07T04:00:00.000Z',
  answer: '2026-12-07T04:00:02.000Z',
  end: `2026-12-07T04:00:${String(10 + n).padStart(2, '0')}.000Z`,
  durationSec: 10 + n,
  billSec: 8 + n,
  src: '101 "Иван" \\ <x>',
  dst: '301',
  disposition: 'ANSWERED',
  routeKind: 'site',
  targetSiteId: 'piter',
  callId: `moscow/moscow-1795696107.${n}`,
  snapshotRevision: 3,
});

/** A private nats-server, the controller's side of it with the events stream, and an empty agent state dir. */
async function publisherSetup(): Promise<{ server: Awaited<ReturnType<typeof startNatsServer>>; ctl: Awaited<ReturnType<typeof controllerSide>>; stateDir: string }> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  const ctl = await controllerSide(server);
  cleanups.push(() => ctl.close());
  await ctl.eventsStream();
  return { server, ctl, stateDir: mkdtempSync(join(tmpdir(), 'fedpbx-cdr-publisher-')) };
}

describe('CdrPublisher', () => {
  it('publishes each outbox line as the envelope the controller takes, skips lines that are not CDRs, and counts them', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    const errors: { msg: string; err?: string }[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line) as { msg: string }) });
    const metrics = new AgentMetrics(false);

    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll([cdr(0), cdr(1)]);
    const day = join(cdrDir(stateDir), '2026-12-07.jsonl');
    appendFileSync(day, '{"type":"cdr","cdrId":"torn-by-a-power-loss","start":"2026-12\n'); // a torn line
    appendFileSync(day, '{"type":"heartbeat","cdrId":"x","end":"2026-12-07T04:00:30.000Z"}\n'); // not a CDR
    await outbox.addAll([cdr(2)]);
    await outbox.settled();

    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    const publisher = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0 });
    await publisher.init();
    expect(publisher.backlog).toBe(5);
    publisher.start();
    link.start();
    cleanups.push(async () => {
      await publisher.stop();
      await link.stop();
    });
    await expect.poll(() => publisher.backlog, { timeout: 10_000 }).toBe(0);

    const sent = await ctl.events(Subjects.eventSubject('moscow', 'cdr')); // each parsed with AgentEventEnvelope
    expect(sent).toEqual([0, 1, 2].map((n) => AgentEventEnvelope.parse(envelope('moscow', eventId('cdr', 'moscow', cdr(n).cdrId), cdr(n), new Date(cdr(n).end)))));
    expect(errors.map((e) => e.msg)).toEqual(['CDR outbox line is not a valid CDR; skipped', 'CDR outbox line is not a valid CDR; skipped']);
    expect(errors[1]?.err).toBe('not a CDR with a cdrId and an end');
    expect((await metrics.registry.getSingleMetricAsString('fedpbx_rejected_inputs_total')).match(/reason="cdr-outbox-line"} (\d+)/)?.[1]).toBe('2');
  });

  it('writes its cursor at most once per interval (and at stop); a cursor left behind by a crash re-publishes nothing twice', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    const log = pino({ level: 'silent' });
    const metrics = new AgentMetrics(false);
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 10 }, (_, n) => cdr(n)));
    await outbox.settled();
    const day = join(cdrDir(stateDir), '2026-12-07.jsonl');
    const cursorPath = join(stateDir, 'sync', 'cdr-cursor.json');
    const cursor = (): number | undefined => (JSON.parse(readFileSync(cursorPath, 'utf8')) as { files: Record<string, number> }).files['2026-12-07.jsonl'];
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    link.start();
    cleanups.push(() => link.stop());

    // Ten batches of one, an interval longer than the test: the first batch's write, then none until stop.
    const writes = vi.spyOn(CdrPublisher.prototype as unknown as { writeCursor: () => Promise<void> }, 'writeCursor');
    cleanups.push(() => writes.mockRestore());
    const a = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0, batchSize: 1, cursorIntervalMs: 60_000 });
    await a.init();
    a.start();
    await expect.poll(() => a.backlog, { timeout: 10_000 }).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // caught up, idle
    expect(writes).toHaveBeenCalledTimes(1);
    expect(cursor()).toBe(readFileSync(day).indexOf(0x0a) + 1);
    await a.stop();
    expect(writes).toHaveBeenCalledTimes(2);
    expect(cursor()).toBe(statSync(day).size);

    // A crash after the PubAcks of lines 2-10 and before their cursor write: they go again, JetStream keeps one each.
    const firstLine = readFileSync(day).indexOf(0x0a) + 1; // bytes (the lines hold Cyrillic)
    writeFileSync(cursorPath, JSON.stringify({ v: 1, files: { '2026-12-07.jsonl': firstLine } }));
    const b = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0, cursorIntervalMs: 200 });
    await b.init();
    expect(b.backlog).toBe(9);
    b.start();
    cleanups.push(() => b.stop());
    await expect.poll(() => b.backlog, { timeout: 10_000 }).toBe(0);
    // Caught up: the cursor file follows once the interval is over, without a stop.
    await expect.poll(() => cursor(), { timeout: 10_000 }).toBe(statSync(day).size);
    const sent = await ctl.events(Subjects.eventSubject('moscow', 'cdr'));
    expect(sent.map((e) => e.event.type === 'cdr' && e.event.cdrId)).toEqual(Array.from({ length: 10 }, (_, n) => cdr(n).cdrId));
  });

  it('no stream takes the subject yet: each try is refused at once (503, not a 5 s PubAck timeout), nothing moves; once the stream exists every CDR is stored once, in order', async () => {
    const server = await startNatsServer();
    cleanups.push(() => server.stop());
    const ctl = await controllerSide(server);
    cleanups.push(() => ctl.close());
    const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-cdr-publisher-'));
    const warnings: { msg: string; err?: string; time: number }[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string; time: number }) });
    const metrics = new AgentMetrics(false);
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 5 }, (_, n) => cdr(n)));
    await outbox.settled();
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    const publisher = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0 });
    await publisher.init();
    const startedAt = Date.now();
    publisher.start();
    link.start();
    cleanups.push(async () => {
      await publisher.stop();
      await link.stop();
    });
    await expect.poll(() => warnings.find((w) => w.msg === 'CDRs not acknowledged; retrying the batch'), { timeout: 10_000 }).toBeDefined();
    const refused = warnings.find((w) => w.msg === 'CDRs not acknowledged; retrying the batch')!;
    expect(refused.err).toMatch(/no stream takes the subject \(503/);
    expect(refused.time - startedAt).toBeLessThan(4000); // well inside the 5 s a lost PubAck would take
    expect(publisher.backlog).toBe(5);

    await ctl.eventsStream();
    await expect.poll(() => publisher.backlog, { timeout: 40_000 }).toBe(0);
    const sent = await ctl.events(Subjects.eventSubject('moscow', 'cdr'));
    expect(sent.map((e) => e.event.type === 'cdr' && e.event.cdrId)).toEqual(Array.from({ length: 5 }, (_, n) => cdr(n).cdrId));
  }, 60_000);

  it('follows each outbox write at once: a late CDR of a day already published, and a new day', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    const log = pino({ level: 'silent' });
    const metrics = new AgentMetrics(false);
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    const onDay = (n: number, day: string): CdrEvent => ({ ...cdr(n), end: `${day}T23:59:${String(n).padStart(2, '0')}.000Z` });
    await outbox.addAll([onDay(1, '2026-12-06'), onDay(2, '2026-12-07')]);
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    const publisher = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log });
    await publisher.init();
    outbox.onStored((count, days, lines) => publisher.stored(count, days, lines)); // as the sync client wires them
    publisher.start();
    link.start();
    cleanups.push(async () => {
      await publisher.stop();
      await link.stop();
    });
    const published = async (): Promise<string[]> => (await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).map((e) => (e.event.type === 'cdr' ? e.event.cdrId : ''));
    await expect.poll(published, { timeout: 10_000 }).toEqual([cdr(1).cdrId, cdr(2).cdrId]);
    // Well before the publisher's quiet-spell look (5 s): the write's own wake-up says which day file grew.
    await outbox.add(onDay(3, '2026-12-06'));
    await expect.poll(published, { timeout: 4000, interval: 50 }).toEqual([1, 2, 3].map((n) => cdr(n).cdrId));
    await outbox.add(onDay(4, '2026-12-08'));
    await expect.poll(published, { timeout: 4000, interval: 50 }).toEqual([1, 2, 3, 4].map((n) => cdr(n).cdrId));
    await outbox.add(onDay(5, '2026-12-06'));
    await expect.poll(published, { timeout: 4000, interval: 50 }).toEqual([1, 2, 3, 4, 5].map((n) => cdr(n).cdrId));
    expect(publisher.backlog).toBe(0);
  });

  it('reads the outbox until a short read, with no fstat per batch: a file ending at the read buffer\'s edge, a line longer than it, one longer than 1 MiB, a line still being written', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    const errors: { msg: string }[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line) as { msg: string }) });
    const metrics = new AgentMetrics(false);
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.add(cdr(0));
    const day = join(cdrDir(stateDir), '2026-12-07.jsonl');
    // A CDR line made as long as wanted with JSON whitespace (the envelope embeds the line as stored).
    const padded = (n: number, bytes: number): string => {
      const text = JSON.stringify(cdr(n));
      return `${text.slice(0, 1)}${' '.repeat(bytes - Buffer.byteLength(text) - 1)}${text.slice(1)}\n`;
    };
    const readBuffer = 64 * 1024; // cdr-publisher.ts READ_SIZE
    appendFileSync(day, padded(1, readBuffer - statSync(day).size)); // the file ends exactly at the first read's end
    expect(statSync(day).size).toBe(readBuffer);
    appendFileSync(day, padded(2, readBuffer + 5000)); // no newline in a whole read: read again with room for it
    appendFileSync(day, padded(3, (1 << 20) + 10)); // longer than 1 MiB: skipped
    const fourth = JSON.stringify(cdr(4));
    appendFileSync(day, fourth.slice(0, 40)); // a line still being written

    const fh = await open(day, 'r');
    const handleProto = Object.getPrototypeOf(fh) as { stat: () => Promise<unknown> };
    await fh.close();
    const stats = vi.spyOn(handleProto, 'stat');
    cleanups.push(() => stats.mockRestore());
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    const publisher = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0 });
    await publisher.init();
    outbox.onStored((count, days, lines) => publisher.stored(count, days, lines));
    publisher.start();
    link.start();
    cleanups.push(async () => {
      await publisher.stop();
      await link.stop();
    });
    const published = async (): Promise<string[]> => (await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).map((e) => (e.event.type === 'cdr' ? e.event.cdrId : ''));
    await expect.poll(published, { timeout: 10_000 }).toEqual([0, 1, 2].map((n) => cdr(n).cdrId));
    // Its first MiB is skipped, then its rest as a line that is not a CDR (as before: nothing of it is sent).
    expect(errors.map((e) => e.msg)).toEqual(['CDR outbox line longer than 1 MiB; skipped', 'CDR outbox line is not a valid CDR; skipped']);

    // The line's end arrives; the outbox's next write wakes the publisher, which reads on from the line's start.
    appendFileSync(day, `${fourth.slice(40)}\n`);
    await outbox.add(cdr(5));
    await expect.poll(published, { timeout: 10_000 }).toEqual([0, 1, 2, 4, 5].map((n) => cdr(n).cdrId));
    const sent = await ctl.events(Subjects.eventSubject('moscow', 'cdr'));
    expect(sent.slice(0, 3)).toEqual([0, 1, 2].map((n) => AgentEventEnvelope.parse(envelope('moscow', eventId('cdr', 'moscow', cdr(n).cdrId), cdr(n), new Date(cdr(n).end)))));
    await publisher.stop();
    expect(JSON.parse(readFileSync(join(stateDir, 'sync', 'cdr-cursor.json'), 'utf8'))).toEqual({ v: 1, files: { '2026-12-07.jsonl': statSync(day).size } });
    expect(stats).not.toHaveBeenCalled();
  });

  it('the outbox pruner removes an old day file once the durable cursor passed it; a late CDR of that day is published, also after a restart', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    const log = pino({ level: 'silent' });
    const metrics = new AgentMetrics(false);
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    const onDay = (n: number, day: string): CdrEvent => ({ ...cdr(n), end: `${day}T23:59:${String(n).padStart(2, '0')}.000Z` });
    await outbox.addAll([onDay(1, '2026-11-20'), onDay(2, '2026-11-20'), onDay(3, '2026-12-07')]);
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir), metrics, log });
    link.start();
    cleanups.push(() => link.stop());
    const started = async (): Promise<CdrPublisher> => {
      const p = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, cursorIntervalMs: 0 });
      await p.init();
      outbox.onStored((count, days, lines) => p.stored(count, days, lines));
      p.start();
      cleanups.push(() => p.stop());
      return p;
    };
    const a = await started();
    const pruner = new CdrOutboxPruner({ stateDir, retentionDays: 7, publisher: a, outbox, log, now: () => new Date('2026-12-07T12:00:00Z') });
    const old = join(cdrDir(stateDir), '2026-11-20.jsonl');
    // Unacknowledged (nothing published yet): kept.
    expect(await pruner.prune()).toEqual([]);
    const published = async (): Promise<string[]> => (await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).map((e) => (e.event.type === 'cdr' ? e.event.cdrId : ''));
    await expect.poll(published, { timeout: 10_000 }).toEqual([1, 2, 3].map((n) => cdr(n).cdrId));
    await expect.poll(() => pruner.prune(), { timeout: 10_000 }).toEqual(['2026-11-20.jsonl']);
    expect(existsSync(old)).toBe(false);

    // A late CDR of the pruned day: a new, smaller file, read from its start (not from the old file's cursor).
    await outbox.add(onDay(4, '2026-11-20'));
    await expect.poll(published, { timeout: 10_000 }).toEqual([1, 2, 3, 4].map((n) => cdr(n).cdrId));
    await a.stop();
    // A cursor left naming the old file's size (a crash before it was written again): the restarted publisher drops
    // it for a file that is gone, so the next late CDR is read from the new file's start.
    await pruner.prune();
    expect(existsSync(old)).toBe(false);
    const cursorPath = join(stateDir, 'sync', 'cdr-cursor.json');
    const cursor = JSON.parse(readFileSync(cursorPath, 'utf8')) as { v: 1; files: Record<string, number> };
    writeFileSync(cursorPath, JSON.stringify({ v: 1, files: { ...cursor.files, '2026-11-20.jsonl': 100_000 } }));
    const b = await started();
    expect(b.backlog).toBe(0);
    await outbox.add(onDay(5, '2026-11-20'));
    await expect.poll(published, { timeout: 10_000 }).toEqual([1, 2, 3, 4, 5].map((n) => cdr(n).cdrId));
  });
});

describe('CdrPublisher, CDR batches (issue #21 §4)', () => {
  const cdrIds = (envs: readonly AgentEventEnvelope[]): string[] => envs.map((e) => (e.event.type === 'cdr' ? e.event.cdrId : ''));
  const asAlone = (n: number): AgentEventEnvelope => AgentEventEnvelope.parse(envelope('moscow', eventId('cdr', 'moscow', cdr(n).cdrId), cdr(n), new Date(cdr(n).end)));

  async function running(stateDir: string, server: Awaited<ReturnType<typeof startNatsServer>>, over: { creds?: string; batchRetryMs?: number; batchSize?: number } = {}) {
    const logs: { level: number; msg: string; reason?: string; time: number }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
    const metrics = new AgentMetrics(false);
    const link = new NatsLink({ siteId: 'moscow', servers: [server.url], credsFile: await writeAgentCreds(server, 'moscow', stateDir, over.creds), metrics, log });
    const publisher = new CdrPublisher({ stateDir, siteId: 'moscow', link, metrics, log, lingerMs: 0, batchRetryMs: over.batchRetryMs, batchSize: over.batchSize });
    await publisher.init();
    publisher.start();
    link.start();
    cleanups.push(async () => {
      await publisher.stop();
      await link.stop();
    });
    return { publisher, logs, startedAt: Date.now() };
  }

  it('a controller that reads batches: the CDRs go as ONE message on fedpbx.cdrs.<site>, each line the envelope a CDR alone would be', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    await ctl.cdrsStream();
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 10 }, (_, n) => cdr(n)));
    await outbox.settled();
    const { publisher } = await running(stateDir, server);
    await expect.poll(() => publisher.backlog, { timeout: 10_000 }).toBe(0);
    const batches = await ctl.cdrBatches();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.envelopes).toEqual(Array.from({ length: 10 }, (_, n) => asAlone(n)));
    expect(batches[0]?.msgId).toMatch(/^cdrs:moscow:10:[\w-]{43}$/);
    expect(await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).toEqual([]);
  });

  it('lines this process wrote (not parsed again) go as the same envelopes as lines read back from an earlier run', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    await ctl.cdrsStream();
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 3 }, (_, n) => cdr(n))); // before this publisher: read back and parsed
    const { publisher } = await running(stateDir, server);
    const handed: string[] = [];
    outbox.onStored((count, days, lines) => {
      handed.push(...lines.map((l) => l.cdrId));
      publisher.stored(count, days, lines);
    });
    await expect.poll(() => publisher.backlog, { timeout: 10_000 }).toBe(0);
    for (let n = 3; n < 9; n++) await outbox.add(cdr(n)); // one write each, handed over with its line
    await expect.poll(async () => (await ctl.cdrBatches()).flatMap((m) => m.envelopes).length, { timeout: 10_000 }).toBe(9);
    expect(handed).toEqual(Array.from({ length: 6 }, (_, n) => cdr(n + 3).cdrId));
    expect((await ctl.cdrBatches()).flatMap((m) => m.envelopes)).toEqual(Array.from({ length: 9 }, (_, n) => asAlone(n)));
    expect(publisher.backlog).toBe(0);
  });

  it('the same batch sent again (a crash before the cursor write) is a JetStream duplicate: one message in the stream', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    await ctl.cdrsStream();
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 4 }, (_, n) => cdr(n)));
    await outbox.settled();
    const a = await running(stateDir, server);
    await expect.poll(() => a.publisher.backlog, { timeout: 10_000 }).toBe(0);
    await a.publisher.stop();
    writeFileSync(join(stateDir, 'sync', 'cdr-cursor.json'), JSON.stringify({ v: 1, files: {} })); // the cursor as before the batch
    const b = await running(stateDir, server);
    await expect.poll(() => b.publisher.backlog, { timeout: 10_000 }).toBe(0);
    const batches = await ctl.cdrBatches();
    expect(batches.map((m) => cdrIds(m.envelopes))).toEqual([[0, 1, 2, 3].map((n) => cdr(n).cdrId)]);
  });

  it('an old controller (no batch stream: 503) gets one CDR per message at once; batches start once its successor made the stream', async () => {
    const { server, ctl, stateDir } = await publisherSetup(); // the events stream only
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll([cdr(0), cdr(1)]);
    const { publisher, logs, startedAt } = await running(stateDir, server, { batchRetryMs: 1000 });
    outbox.onStored((count, days) => publisher.stored(count, days));
    await expect.poll(() => publisher.backlog, { timeout: 10_000 }).toBe(0);
    const fellBack = logs.find((l) => l.msg.startsWith('CDR batch not taken'));
    expect(fellBack?.reason).toMatch(/503/);
    expect((fellBack?.time ?? Infinity) - startedAt).toBeLessThan(4000); // not a 5 s PubAck timeout
    expect(cdrIds(await ctl.events(Subjects.eventSubject('moscow', 'cdr')))).toEqual([cdr(0).cdrId, cdr(1).cdrId]);

    await ctl.cdrsStream(); // the controller upgraded
    await new Promise((r) => setTimeout(r, 1100)); // past batchRetryMs
    await outbox.addAll([cdr(2), cdr(3)]);
    await expect.poll(async () => (await ctl.cdrBatches()).flatMap((m) => cdrIds(m.envelopes)), { timeout: 10_000 }).toEqual([cdr(2).cdrId, cdr(3).cdrId]);
    expect(await ctl.events(Subjects.eventSubject('moscow', 'cdr'))).toHaveLength(2);
  });

  it('credentials minted before batches (publish denied) fall back at once, even where the batch stream exists; nothing is lost', async () => {
    const { server, ctl, stateDir } = await publisherSetup();
    await ctl.cdrsStream();
    const old = agentPermissions('moscow');
    const oldCreds = await mintUserCreds(server.issuer, 'agent-moscow', { ...old, pub: { allow: (old.pub?.allow ?? []).filter((p) => p !== Subjects.cdrBatch('moscow')) } });
    const outbox = new CdrOutbox(stateDir, { lingerMs: 0 });
    await outbox.addAll(Array.from({ length: 3 }, (_, n) => cdr(n)));
    await outbox.settled();
    const { publisher, logs, startedAt } = await running(stateDir, server, { creds: oldCreds });
    await expect.poll(() => publisher.backlog, { timeout: 10_000 }).toBe(0);
    const fellBack = logs.find((l) => l.msg.startsWith('CDR batch not taken'));
    expect(fellBack?.reason).toBe('publishing to fedpbx.cdrs.moscow is not permitted (credentials from before CDR batches)');
    expect((fellBack?.time ?? Infinity) - startedAt).toBeLessThan(4000);
    expect(cdrIds(await ctl.events(Subjects.eventSubject('moscow', 'cdr')))).toEqual([0, 1, 2].map((n) => cdr(n).cdrId));
    expect(await ctl.cdrBatches()).toEqual([]);
  });
});
