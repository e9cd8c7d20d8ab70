// Issue 20 §3-4 (the NATS part): head office on a 3-node JetStream cluster survives losing a node. Every part is
// real but Asterisk: three nats-servers (operator mode, full resolver, routes with credentials, own stores, free
// loopback ports), the built controller on its own PostgreSQL database (FEDPBX_NATS_URL = the three nodes), two
// agent processes enrolled with one-time tokens (they get the three URLs), and the faithful AMI peers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { Kvm } from '@nats-io/kv';
import { renderLeafConfig } from '@fedpbx/nats-auth';
import { decodeSnapshotValue } from '@fedpbx/signing';
import pg from 'pg';
import { cdrEnvelope } from '../../apps/controller/src/ingest/testing/cdr-envelopes.js';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { AGENT_MAIN, startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { cdrEventFields } from '../support/asterisk/cdr-event.js';
import { seedFoundingScenario, startController, type ControllerProcess } from '../support/controller-process.js';
import { startNatsCluster, type TestNatsCluster, type TestNatsNode } from '../support/nats-cluster.js';
import { freePort, natsProcess } from '../support/nats-server.js';
import { until } from '../support/until.js';

/** CDRs in the flood, published as kazan's agent publishes them; FEDPBX_CLUSTER_CDRS to change it. */
const CDRS = Number(process.env['FEDPBX_CLUSTER_CDRS'] ?? 10_000);
/** CDRs at the same time through moscow's real agent (Asterisk's AMI Cdr events, outbox, JetStream). */
const AGENT_CDRS = Number(process.env['FEDPBX_CLUSTER_AGENT_CDRS'] ?? 1000);
/**
 * How long after the kill every site may take to apply the rollout in flight and report it - 30 s, or 20 s after
 * the flood was stored if that is later (a site's report travels in the events stream behind the flood). What the
 * design bounds: Raft elects new stream and consumer leaders in a few seconds; the controller's publisher retries
 * within 10 s; an agent whose config watch's one-replica consumer died with the node (while the agent stayed
 * connected to another) re-creates it after two missed heartbeats (FEDPBX_CONFIG_WATCH_HEARTBEAT_MS 2 s: 4-6 s);
 * the agent's status report retries within 5 s; the controller's ingest pulls again after two missed heartbeats
 * (FEDPBX_INGEST_HEARTBEAT_MS 2 s) when its consumer's leader died. Measured at load 25 on 2 cores: 0.7-6 s to
 * apply, in sync 10-19 s after the kill, when the flood was stored. The rest is margin for a loaded CI runner.
 */
const ROLLOUT_BOUND_MS = 30_000;
const ROLLOUT_AFTER_FLOOD_MS = 20_000;
/** The node dies once this share of the flood was acknowledged. */
const KILL_AT = Math.floor(CDRS * 0.3);

interface Site {
  readonly id: string;
  readonly ami: AmiPeer;
  agent: AgentProcess;
}

interface Rollout {
  currentRevision: number;
  appliedRevision: number | null;
  state: string;
}

let cluster: TestNatsCluster;
let db: TestDatabase;
let controller: ControllerProcess;
let admin: NatsConnection;
let jsm: JetStreamManager;
const sites = new Map<string, Site>();

function site(id: string): Site {
  const s = sites.get(id);
  if (s === undefined) throw new Error(`no site ${id}`);
  return s;
}

async function rollout(siteId: string): Promise<Rollout> {
  const r = await controller.api<{ data: Rollout }>('GET', `/api/v1/sites/${siteId}/rollout`, undefined, await controller.adminToken());
  if (r.status !== 200) throw new Error(`rollout ${siteId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

async function inSync(siteId: string, ms: number): Promise<Rollout> {
  let last: Rollout | undefined;
  try {
    return await until(`${siteId} in sync`, async () => {
      last = await rollout(siteId);
      return last.state === 'in-sync' && last.appliedRevision === last.currentRevision ? last : undefined;
    }, ms);
  } catch (error) {
    const agentLog = sites.get(siteId)?.agent.logs.slice(-25).map((l) => JSON.stringify(l)) ?? [];
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nrollout: ${JSON.stringify(last)}\nagent:\n${agentLog.join('\n')}\ncontroller:\n${controller.output.slice(-25).join('\n')}`, { cause: error });
  }
}

/** The cluster node a process's NATS client is on now, from its `nats://host:port` URL. */
function nodeAt(server: string): TestNatsNode {
  const port = Number(/:(\d+)$/.exec(server)?.[1]);
  const n = cluster.nodes.find((x) => x.port === port);
  if (n === undefined) throw new Error(`${server} is not a node of the cluster`);
  return n;
}

/** Where an agent's NATS client is connected now (its last "connected"/"reconnected" log line). */
function agentServer(a: AgentProcess): string {
  const line = [...a.logs].reverse().find((l) => l.msg === 'connected to NATS' || l.msg === 'NATS reconnected');
  if (typeof line?.server !== 'string') throw new Error('the agent never connected to NATS');
  return line.server;
}

async function streamLeader(stream: string): Promise<string | undefined> {
  return (await jsm.streams.info(stream)).cluster?.leader;
}

/**
 * Moves the stream's Raft leader onto `node` (each step-down elects another member at random): the node then
 * killed takes the events stream's leader with it, the hardest moment for the publishes in flight.
 */
async function leadOn(stream: string, node: TestNatsNode): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if ((await streamLeader(stream)) === node.name) return;
    await admin.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5000 }).catch(() => undefined);
    await until(`${stream} has a leader`, async () => ((await streamLeader(stream).catch(() => undefined)) !== undefined ? true : undefined), 10_000);
  }
  throw new Error(`${stream}: could not move its leader to ${node.name}`);
}

async function storedCdrs(pool: pg.Pool, siteId: string): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT unique_id) AS distinct FROM cdrs WHERE site_id = $1`, [siteId]);
  return { rows: Number(r.rows[0]?.rows ?? 0), distinct: Number(r.rows[0]?.distinct ?? 0) };
}

/**
 * Publishes `count` CDR envelopes of `siteId` as an agent's CdrPublisher does: JetStream publish with the
 * envelope id as Nats-Msg-Id, and a publish that fails (its node died, no stream leader yet, a timeout) is sent
 * again with the same id until the stream acknowledges it - so the stream's dedupe, not luck, keeps it once.
 * `onAcked` hears the running count. Resolves to how many retries it took.
 */
async function floodCdrs(nc: NatsConnection, siteId: string, count: number, onAcked: (acked: number) => Promise<void>): Promise<number> {
  const js = jetstream(nc, { timeout: 5000 });
  const subject = Subjects.eventSubject(siteId, 'cdr');
  let next = 0;
  let acked = 0;
  let retries = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const env = cdrEnvelope(siteId, next++);
      for (;;) {
        try {
          await js.publish(subject, JSON.stringify(env), { msgID: env.id });
          break;
        } catch {
          retries += 1;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      acked += 1;
      await onAcked(acked);
    }
  };
  await Promise.all(Array.from({ length: 200 }, worker));
  return retries;
}

function emitCdr(ami: AmiPeer, n: number): void {
  ami.event(
    'Cdr',
    cdrEventFields({ uniqueId: `moscow-1795800000.${n}`, sequence: n, dst: '102', channel: `PJSIP/101-${n.toString(16).padStart(8, '0')}` }),
  );
}

beforeAll(async () => {
  expect(AGENT_MAIN).toBeTruthy();
  cluster = await startNatsCluster({ size: 3, leafnodes: true });
  db = await createTestDatabase({ require: 'postgres' });
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cluster-'));
  const issuerFile = join(dir, 'issuer.json');
  writeFileSync(issuerFile, JSON.stringify(cluster.issuer), { mode: 0o600 });
  // FEDPBX_NATS_REPLICAS unset: the controller sees a clustered server and keeps 3 copies.
  controller = await startController({ FEDPBX_DATA_DIR: join(dir, 'controller'), FEDPBX_NATS_URL: cluster.urls, FEDPBX_NATS_ISSUER_FILE: issuerFile, FEDPBX_LOG_LEVEL: process.env['FEDPBX_CLUSTER_LOG'] ?? 'warn', ...db.env });
  admin = await connect({ servers: cluster.urls.split(','), authenticator: credsAuthenticator(new TextEncoder().encode(await cluster.controllerCreds())), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  jsm = await jetstreamManager(admin, { timeout: 5000 });
  await seedFoundingScenario(controller);
  const token = await controller.adminToken();
  for (const id of ['moscow', 'piter']) {
    const stateDir = mkdtempSync(join(tmpdir(), `fedpbx-cluster-${id}-`));
    const issued = await controller.api<{ token: string }>('POST', `/api/v1/sites/${id}/enrollment-tokens`, {}, token);
    expect(issued.status).toBe(201);
    const enroll = spawnSync(process.execPath, [AGENT_MAIN, 'enroll', '--controller', controller.url, '--token', issued.body.token], {
      env: { PATH: process.env.PATH ?? '', FEDPBX_STATE_DIR: stateDir, FEDPBX_SITE_ID: id },
      encoding: 'utf8',
    });
    expect(enroll.status, enroll.stderr).toBe(0);
    const ami = await AmiPeer.start({ systemName: id });
    if (id === 'moscow') ami.pjsip = moscowPjsip();
    const env = {
      FEDPBX_SITE_ID: id,
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_AMI_HOST: '127.0.0.1',
      FEDPBX_AMI_PORT: String(ami.port),
      FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
      FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
      FEDPBX_LOG_LEVEL: 'info',
      // This suite is about the bus; on a loaded CI machine the default 1.5 s stall watchdog would end the agent mid-test.
      FEDPBX_EVENT_LOOP_STALL_MS: '10000',
    };
    sites.set(id, { id, ami, agent: await startAgent(env, { timeoutMs: 30_000 }) });
  }
  await inSync('moscow', 30_000);
  await inSync('piter', 30_000);
}, 180_000);

afterAll(async () => {
  for (const s of sites.values()) {
    await s.agent.stop();
    await s.ami.close();
  }
  await admin?.close();
  await controller?.stop();
  await cluster?.stop();
  await db?.drop();
});

describe('a 3-node NATS cluster (issue 20 §3-4)', () => {
  it('keeps 3 copies of every config bucket and of the events stream; the agents got all three URLs', async () => {
    for (const stream of [Subjects.EVENTS_STREAM, `KV_${Subjects.SHARED_BUCKET}`, `KV_${Subjects.configBucket('moscow')}`, `KV_${Subjects.configBucket('piter')}`]) {
      const info = await jsm.streams.info(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      expect(info.cluster?.replicas?.length, stream).toBe(2);
    }
    for (const s of sites.values()) expect(() => nodeAt(agentServer(s.agent))).not.toThrow();
  });

  it(`loses a node during a flood of ${CDRS} CDRs and a rollout: 0 lost, 0 duplicated, every site applies, agents reconnect`, async () => {
    const moscow = site('moscow');
    const piter = site('piter');
    // The node to kill: moscow's (the agent publishing the flood), made leader of the events stream.
    const victim = nodeAt(agentServer(moscow.agent));
    await leadOn(Subjects.EVENTS_STREAM, victim);
    const onVictim = [...sites.values()].filter((s) => nodeAt(agentServer(s.agent)) === victim).map((s) => s.id);
    const reconnectsBefore = new Map([...sites.values()].map((s) => [s.id, s.agent.logs.filter((l) => l.msg === 'NATS reconnected').length]));
    const before = { moscow: (await rollout('moscow')).currentRevision, piter: (await rollout('piter')).currentRevision };

    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    // kazan (no agent process here) publishes the big flood from the node that dies, with kazan's agent credentials.
    const kazan = await connect({
      servers: [victim.url, ...cluster.nodes.filter((n) => n !== victim).map((n) => n.url)],
      noRandomize: true,
      authenticator: credsAuthenticator(new TextEncoder().encode(await cluster.agentCreds('kazan'))),
      inboxPrefix: Subjects.inboxPrefix('kazan'),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      const started = Date.now();
      let killed: Promise<void> | undefined;
      let killedAt = 0;
      const flood = floodCdrs(kazan, 'kazan', CDRS, async (acked) => {
        if (acked !== KILL_AT) return;
        // A rollout in flight: one write per site, not awaited before the node dies.
        const token = await controller.adminToken();
        const writes = Promise.all([
          controller.api('POST', '/api/v1/extensions', { id: 'e-moscow-121', siteId: 'moscow', number: '121', displayName: 'Added during the kill' }, token),
          controller.api('POST', '/api/v1/extensions', { id: 'e-piter-321', siteId: 'piter', number: '321', displayName: 'Added during the kill' }, token),
        ]);
        killed = victim.kill();
        killedAt = Date.now();
        for (const w of await writes) expect(w.status, JSON.stringify(w.body)).toBe(201);
      });
      // moscow's real agent takes its share through Asterisk's AMI at the same time.
      for (let n = 1; n <= AGENT_CDRS; n++) {
        emitCdr(moscow.ami, n);
        if (n % 100 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      const retries = await flood;
      await killed;
      expect(victim.running()).toBe(false);

      // (a) every CDR once in the controller's database.
      const storedAll = async (): Promise<{ kazan: { rows: number; distinct: number }; moscow: { rows: number; distinct: number } }> => ({
        kazan: await storedCdrs(pool, 'kazan'),
        moscow: await storedCdrs(pool, 'moscow'),
      });
      await until(
        `${CDRS} + ${AGENT_CDRS} CDRs stored`,
        async () => {
          const c = await storedAll();
          return c.kazan.rows >= CDRS && c.moscow.rows >= AGENT_CDRS ? c : undefined;
        },
        90_000,
      ).catch(async (error: unknown) => {
        const agentLog = moscow.agent.logs.slice(-20).map((l) => JSON.stringify(l));
        throw new Error(`${error instanceof Error ? error.message : String(error)}: ${JSON.stringify(await storedAll())}\nmoscow agent:\n${agentLog.join('\n')}\ncontroller:\n${controller.output.slice(-30).join('\n')}`, { cause: error });
      });
      const floodMs = Date.now() - started;
      await new Promise((r) => setTimeout(r, 1000)); // anything doubled would land now
      const final = await storedAll();
      const lost = CDRS - final.kazan.distinct + (AGENT_CDRS - final.moscow.distinct);
      const duplicated = final.kazan.rows - final.kazan.distinct + (final.moscow.rows - final.moscow.distinct);
      process.stdout.write(`${JSON.stringify({ cdrs: CDRS + AGENT_CDRS, killed: victim.name, publish_retries: retries, cdr_lost: lost, cdr_duplicated: duplicated, flood_ms: floodMs })}\n`);
      expect(final).toEqual({ kazan: { rows: CDRS, distinct: CDRS }, moscow: { rows: AGENT_CDRS, distinct: AGENT_CDRS } });

      // (b) the rollout that was in flight completes at every site within the bound (see ROLLOUT_BOUND_MS).
      const boundMs = Math.max(ROLLOUT_BOUND_MS - (Date.now() - killedAt), ROLLOUT_AFTER_FLOOD_MS);
      const [m, p] = await Promise.all([inSync('moscow', boundMs), inSync('piter', boundMs)]);
      const recreated = Object.fromEntries([moscow, piter].map((s) => [s.id, s.agent.logs.filter((l) => l.msg === 'config watch fell silent; re-creating it').length]));
      process.stdout.write(`${JSON.stringify({ in_sync_after_kill_ms: Date.now() - killedAt, bound_ms: boundMs, silent_watches_recreated: recreated })}\n`);
      expect(m.currentRevision).toBeGreaterThan(before.moscow);
      expect(p.currentRevision).toBeGreaterThan(before.piter);

      // (c) the agents on the dead node moved to the others, and the bus reports them connected.
      expect(onVictim).toContain('moscow');
      for (const id of onVictim) {
        const a = site(id).agent;
        expect(a.logs.filter((l) => l.msg === 'NATS reconnected').length).toBeGreaterThan(reconnectsBefore.get(id) ?? 0);
        expect(nodeAt(agentServer(a))).not.toBe(victim);
      }
      for (const s of [moscow, piter]) {
        const metrics = await (await fetch(`http://127.0.0.1:${s.agent.metricsPort}/metrics`)).text();
        expect(metrics).toMatch(/^fedpbx_connection_up\{peer="nats"\} 1$/m);
      }
      expect(await streamLeader(Subjects.EVENTS_STREAM)).not.toBe(victim.name);
    } finally {
      await kazan.close();
      await pool.end();
      await victim.start();
    }
  }, 360_000);
  it('a branch leaf node connects to the cluster with its agent credentials and moves to another node when its node dies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cluster-leaf-'));
    const credsFile = join(dir, 'nats.creds');
    writeFileSync(credsFile, await cluster.agentCreds('piter'), { mode: 0o600 });
    const port = await freePort();
    const conf = join(dir, 'leaf.conf');
    writeFileSync(conf, renderLeafConfig({ siteId: 'piter', hubLeafUrls: cluster.nodes.map((n) => `nats-leaf://127.0.0.1:${n.leafPort}`), credsFile, port }));
    const leaf = natsProcess(conf, port);
    await leaf.start();
    // The agent's view through the leaf: its own bucket, over the hub's JetStream domain.
    const nc = await connect({ servers: `nats://127.0.0.1:${port}`, inboxPrefix: Subjects.inboxPrefix('piter'), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      const revision = async (): Promise<number | undefined> => {
        const kv = await new Kvm(jetstream(nc, { checkAPI: false, timeout: 3000 })).open(Subjects.configBucket('piter'));
        const e = await kv.get(Subjects.SNAPSHOT_KEY);
        return e === null ? undefined : (JSON.parse(decodeSnapshotValue(e.value)) as { revision: number }).revision;
      };
      const hub = await until('the leaf connected to a node', async () => {
        const line = [...leaf.log].reverse().find((l) => /Leafnode connection created/.test(l));
        const m = line === undefined ? null : /127\.0\.0\.1:(\d+) - lid/.exec(line);
        return m === null ? undefined : cluster.nodes.find((n) => n.leafPort === Number(m[1]));
      }, 10_000);
      const before = await until('piter snapshot through the leaf', async () => (await revision().catch(() => undefined)) ?? undefined, 10_000);
      expect(before).toBe((await rollout('piter')).currentRevision);

      await hub.kill();
      const hubKilledAt = Date.now();
      const write = await controller.api('POST', '/api/v1/extensions', { id: 'e-piter-322', siteId: 'piter', number: '322', displayName: 'Added through a leaf' }, await controller.adminToken());
      expect(write.status, JSON.stringify(write.body)).toBe(201);
      // The controller's publish after a node died: Raft elects new leaders while the publisher's tries wait up to 5 s
      // for an answer and back off up to 10 s between them. Measured 1-13 s at load 25-35; once over 30 s at load 47.
      const after = await until('the new revision through the leaf', async () => {
        const r = await revision().catch(() => undefined);
        return r !== undefined && r > before ? r : undefined;
      }, 45_000).catch(async (error: unknown) => {
        const kv = await new Kvm(jetstream(admin, { timeout: 3000 })).open(Subjects.configBucket('piter')).catch(() => undefined);
        const e = await kv?.get(Subjects.SNAPSHOT_KEY).catch(() => null);
        const inBucket = e === null || e === undefined ? undefined : (JSON.parse(decodeSnapshotValue(e.value)) as { revision: number }).revision;
        throw new Error(`${error instanceof Error ? error.message : String(error)}; the bucket holds ${String(inBucket)} (was ${before}); leaf:\n${leaf.log.slice(-10).join('\n')}\ncontroller:\n${controller.output.slice(-20).join('\n')}`, { cause: error });
      });
      process.stdout.write(`${JSON.stringify({ leaf_revision_after_kill_ms: Date.now() - hubKilledAt })}\n`);
      expect(after).toBe((await rollout('piter')).currentRevision);
      expect(leaf.log.filter((l) => /Leafnode connection created/.test(l)).length).toBeGreaterThanOrEqual(2);
      await hub.start();
    } finally {
      await nc.close();
      await leaf.stop();
    }
  }, 150_000);

  it("revoking a site's agent credentials takes effect on every node: the connections on each are cut, each refuses them after", async () => {
    const creds = readFileSync(join(site('piter').agent.stateDir, 'nats.creds'));
    const connectWith = (n: TestNatsNode): Promise<NatsConnection> => connect({ servers: n.url, authenticator: credsAuthenticator(creds), inboxPrefix: Subjects.inboxPrefix('piter'), reconnect: false });
    // One connection with piter's credentials on each node (the revocation reaches each node through the resolver).
    const conns = await Promise.all(cluster.nodes.map(connectWith));
    const closed = conns.map((nc) => nc.closed().then((e) => (e instanceof Error ? e.message : 'closed without an error')));
    const r = await controller.api<{ revokedKeys: string[] }>('POST', '/api/v1/sites/piter/agent-credentials/revoke', undefined, await controller.adminToken());
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.revokedKeys.length).toBeGreaterThan(0);
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still connected after 20 s'), 20_000).unref());
    for (const [i, c] of closed.entries()) expect(await Promise.race([c, timeout]), cluster.nodes[i]?.name).toMatch(/Revoked|Authorization Violation/i);
    for (const n of cluster.nodes) await expect(connectWith(n), n.name).rejects.toThrow(/Authorization Violation/i);
  }, 60_000);
});
