// Issue 20 §3-4: an agent's config watch whose (one-replica) consumer lived on a cluster node that died, while the
// agent stayed connected to a live node. Nothing tells the agent: its connection is fine, and the consumer just falls
// silent. The watcher must notice the silence within its heartbeat window and re-create the watch, catching up to
// the newest revision - not wait for the client library's own 2 x 30 s heartbeat check.
// Real parts: three nats-servers (operator mode, as deploy/nats runs them), the agent's NatsLink and ConfigWatcher
// with the site's own credentials; the applier records what it is offered (what it does with it is tested elsewhere).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { decodeSnapshotValue, encodeSnapshotValue } from '@fedpbx/signing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { claimedRevision, type ApplyResult } from '../../apps/agent/src/state/snapshot-applier.js';
import { ConfigWatcher } from '../../apps/agent/src/sync/config-watcher.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import { startNatsCluster, type TestNatsCluster, type TestNatsNode } from '../support/nats-cluster.js';
import { until } from '../support/until.js';

const SITE = 'piter';
const STREAM = `KV_${Subjects.configBucket(SITE)}`;

let cluster: TestNatsCluster;
let admin: NatsConnection;
let jsm: JetStreamManager;
let bucket: KV;
let credsFile: string;

/** A value as the controller writes it: the signed snapshot's JSON (here only its revision matters), gzipped. */
const snapshotValue = (revision: number): Uint8Array => encodeSnapshotValue(JSON.stringify({ v: 1, revision, siteId: SITE }));

/** The agent's side: a real link and watcher; the applier takes every newer revision and records each offer. */
function agentWatch(node: TestNatsNode) {
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
  const metrics = new AgentMetrics(false);
  // The agent knows only this node: its connection stays where the test put it.
  const link = new NatsLink({ siteId: SITE, servers: [node.url], credsFile, metrics, log });
  const state = { revision: 0, ready: false };
  const offered: number[] = [];
  const applier = {
    offerText: (text: string): Promise<ApplyResult> => {
      const revision = claimedRevision(text) ?? 0;
      offered.push(revision);
      if (revision <= state.revision) return Promise.resolve({ applied: true, revision: state.revision, contentHash: 'x', unchanged: true });
      Object.assign(state, { revision, ready: true });
      return Promise.resolve({ applied: true, revision, contentHash: 'x', unchanged: false });
    },
    offerShared: () => Promise.reject(new Error('no shared part in this test')),
    offerSharedValue: () => Promise.reject(new Error('no shared part in this test')),
  };
  const watcher = new ConfigWatcher({ siteId: SITE, link, applier, state, metrics, log, onRefused: () => undefined });
  return {
    logs,
    metrics,
    state,
    offered,
    start: () => (link.start(), watcher.start()),
    stop: async () => (await watcher.stop(), await link.stop()),
  };
}

/** The node the agent's watch consumer lives on (the only consumer on the site's bucket stream in this test). */
async function watchConsumerNode(): Promise<string | undefined> {
  const consumers = await jsm.consumers.list(STREAM).next();
  return consumers.length === 1 ? consumers[0]?.cluster?.leader : undefined;
}

beforeAll(async () => {
  cluster = await startNatsCluster({ size: 3 });
  admin = await connect({ servers: cluster.urls.split(','), authenticator: credsAuthenticator(new TextEncoder().encode(await cluster.controllerCreds())), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  // A fresh cluster answers JetStream requests once it elected its meta leader.
  jsm = await until('JetStream up', () => jetstreamManager(admin, { timeout: 5000 }).catch(() => undefined), 60_000);
  bucket = await until('the bucket', () => new Kvm(admin).create(Subjects.configBucket(SITE), { history: 5, replicas: 3 }).catch(() => undefined), 60_000);
  await bucket.put(Subjects.SNAPSHOT_KEY, snapshotValue(1));
  credsFile = join(mkdtempSync(join(tmpdir(), 'fedpbx-watch-failover-')), 'nats.creds');
  writeFileSync(credsFile, await cluster.agentCreds(SITE), { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
});

describe('a config watch whose consumer was on a NATS node that died (issue 20 §4)', () => {
  it('is re-created within its heartbeat window and catches up, while the agent stays connected to a live node', async () => {
    // The agent on one node; its watch's consumer on another (placement is the server's: start over until it is).
    const home = cluster.nodes[0] as TestNatsNode;
    let agent = agentWatch(home);
    let consumerNode: string | undefined;
    for (let attempt = 0; ; attempt++) {
      agent.start();
      await until('revision 1 applied', async () => (agent.state.revision === 1 ? true : undefined), 20_000);
      consumerNode = await until('the watch consumer', watchConsumerNode, 10_000);
      if (consumerNode !== home.name) break;
      expect(attempt).toBeLessThan(20);
      await agent.stop();
      await until('the old consumer gone', async () => ((await jsm.consumers.list(STREAM).next()).length === 0 ? true : undefined), 20_000);
      agent = agentWatch(home);
    }
    const victim = cluster.node(consumerNode);
    try {
      await victim.kill();
      const killedAt = Date.now();
      // The controller's next revision (a write accepted by the surviving majority).
      await until('revision 2 written', async () => ((await bucket.put(Subjects.SNAPSHOT_KEY, snapshotValue(2)).catch(() => undefined)) ?? undefined), 30_000);
      await until('revision 2 applied', async () => (agent.state.revision === 2 ? true : undefined), 60_000);
      const lateMs = Date.now() - killedAt;
      const silent = agent.logs.find((l) => l.msg === 'config watch fell silent; re-creating it');
      const silentAfterMs = typeof silent?.time === 'number' ? silent.time - killedAt : undefined;
      process.stdout.write(`${JSON.stringify({ killed: victim.name, silent_after_ms: silentAfterMs ?? null, revision_2_applied_after_ms: lateMs })}\n`);

      // Still on its node all along: nobody but the watcher's own heartbeat check could have noticed.
      expect(agent.logs.filter((l) => l.msg === 'NATS reconnected')).toHaveLength(0);
      // Two heartbeats missed (2 s each by default, checked every 2 s: 4-6 s): the silence is noticed by the watcher's
      // own check (5.9 s in two CI runs). Then the watch is made again and the value read, which also waits for the
      // cluster's new stream leader: 6.2 s after the kill in one CI run, 18.3 s in another (and 18.7 s at load 20).
      // Without the watcher's own check it took 106 s here.
      expect(silentAfterMs).toBeLessThan(10_000);
      expect(lateMs).toBeLessThan(30_000);
      // Logged and counted, not silent; each value offered once and in order (the re-created watch starts at the
      // latest value, and revision 1 - if nothing was written yet when it started - is not offered again).
      expect(silent).toMatchObject({ level: 40, reason: 'silent', bucket: Subjects.configBucket(SITE) });
      expect(await agent.metrics.registry.getSingleMetricAsString('fedpbx_config_watch_recreated_total')).toMatch(/reason="silent"\} [1-9]/);
      expect(agent.offered).toEqual([1, 2]);
    } finally {
      await agent.stop();
      await victim.start();
    }
  }, 180_000);

  it('whose consumer is deleted under it is re-created too, and the value it already handled is not offered again', async () => {
    const agent = agentWatch(cluster.nodes[1] as TestNatsNode);
    agent.start();
    try {
      const latest = await bucket.get(Subjects.SNAPSHOT_KEY);
      const revision = latest === null ? 0 : (claimedRevision(decodeSnapshotValue(latest.value)) ?? 0);
      await until('the latest revision applied', async () => (agent.state.revision === revision ? true : undefined), 20_000);
      // What the first watch offered, oldest first. Usually the latest value alone; right after the test before
      // restarted a node, a consumer placed on that node's copy may deliver the value before it first (seen in CI:
      // [1, 2]) - harmless, the applier takes only newer revisions. What matters here is what comes after.
      const handled = [...agent.offered];
      expect(handled.at(-1)).toBe(revision);
      expect(handled).toEqual([...new Set(handled)].sort((a, b) => a - b));
      const [consumer] = await jsm.consumers.list(STREAM).next();
      expect(consumer).toBeDefined();
      await jsm.consumers.delete(STREAM, consumer?.name ?? '');
      // Whether the server says so or the consumer's heartbeats just stop, the watch ends and is made again.
      const recreated = async (): Promise<string> => await agent.metrics.registry.getSingleMetricAsString('fedpbx_config_watch_recreated_total');
      await until('the watch re-created', async () => (/fedpbx_config_watch_recreated_total\{reason="(silent|consumer-gone)"\} [1-9]/.test(await recreated()) ? true : undefined), 20_000);
      await until('a new consumer', async () => ((await jsm.consumers.list(STREAM).next()).some((c) => c.name !== consumer?.name) ? true : undefined), 20_000);
      // The re-created watch started at the same value: not offered again.
      expect(agent.offered).toEqual(handled);
      await bucket.put(Subjects.SNAPSHOT_KEY, snapshotValue(revision + 1));
      await until('the next revision applied', async () => (agent.state.revision === revision + 1 ? true : undefined), 15_000);
      expect(agent.offered).toEqual([...handled, revision + 1]);
      expect(agent.logs.some((l) => typeof l.msg === 'string' && /^config watch (fell silent|consumer was deleted)/.test(l.msg))).toBe(true);
    } finally {
      await agent.stop();
    }
  }, 120_000);
});
