// npm run bench:sync - federation sync at 200 sites (issue #5, section 7).
//
// Everything real and private to the run: a nats-server in operator mode on a free port, a fresh PostgreSQL
// database, the built controller process (apps/controller/dist) syncing through that server, and 200 agents
// in this process (worker threads: one process, the cores shared), each its own sync stack with its own state
// dir and its own agent NATS credentials (sync-bench-agents.ts), started BENCH_CONNECT_BATCH (25) per thread at a
// time so that 1,000 connect; plus one probe agent in a process of its own (its CPU per apply read from /proc). The npm script gives the process a libuv pool of
// 64 threads (UV_THREADPOOL_SIZE): the 200 agents' file writes and fsyncs would otherwise queue on the 4 threads
// one process has, where each real agent has 4 of its own.
//   1. A generated federation of BENCH_SITES sites is imported through POST /api/v1/import; every agent
//      applies its first snapshot.
//   2. Rollout: BENCH_WRITES API writes, one after another, each adding a number range at one site - a change
//      to the numbering plan every site carries, so all sites get a new snapshot. Then as many one-site changes
//      (an extension), timed to that site's agent (rollout_one_site_p50/p99_ms). Per write and agent: the time
//      from sending the request to the agent having verified, stored and swapped in the new snapshot; beside it
//      (published_p50/p99_ms) the time until the controller's put of that snapshot reached NATS.
//   3. CDR ingest: BENCH_CDRS CDR envelopes published to JetStream with each site's agent credentials, as the
//      agents publish them (subject per site, msg-id = envelope id), plus re-publishes of some (same msg-id:
//      JetStream drops them) and copies under a new msg-id (as after the dedupe window: the database's unique
//      key drops them). Twice: live, timed from the first publish until PostgreSQL holds every distinct CDR
//      (cdr_live_ingest_per_s: bounded by how fast 200 publishers get JetStream acks on this machine); then as a
//      backlog - the controller stopped while as many again are published, then started - timed from the first
//      CDR of the backlog stored to the last (cdr_ingest_per_s: the controller's ingest into PostgreSQL).
// Progress on stderr; one JSON line on stdout:
//   {"rollout_p50_ms","rollout_p99_ms","cdr_ingest_per_s","cdr_lost","cdr_duplicated", ...,
//    "sites","controller_cpu_ms_per_write","agent_cpu_ms_per_apply","rollout_how", ...}
// At 1,000 sites on a few cores the rollout figure is mostly the simulated fleet queueing for CPU: the controller's
// CPU per write and one agent's CPU per apply (the probe's process) are reported apart, and rollout_how says how
// the rollout was measured.
// One agent's CPU per apply, three ways (agent_cpu_how says it in the output): agent_cpu_ms_per_apply is the probe's
// process over the writes less its idle rate of the 10 s before them; _idle_after the same with the rate of 10 s
// after them (the two apart = how far that subtraction can be trusted: it takes off the idle rate times a write
// phase of 20 s to minutes); _in_offer (median; _mean, _first, _max) needs no subtraction: the probe's CPU, every
// thread, while its applier held each value - verify, store, compile - without the NATS client's receipt before.
// probe_threads_ms_per_write_gross splits the gross figure into the main thread and the others (V8's concurrent GC
// and compiler threads, libuv's pool). The probe starts before the fleet and is measured only once V8's memory reducer
// has run the collections its boot compaction armed (~40 s later; probe_memory_reducer_*): an agent's one-time cost
// after its start, which had landed in the idle window or the aftermath, whichever it fell in.
// Targets: rollout p99 < 1 s for 200 sites; ingest >= 5,000 CDR/s; nothing lost or duplicated.
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { generateFederation } from '@fedpbx/dialplan';
import { exportPrivateKey, exportPublicKey, generateSigningKey } from '@fedpbx/signing';
import pg from 'pg';
import { cdrEnvelope } from '../../apps/controller/src/ingest/testing/cdr-envelopes.js';
import { publishCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startController, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import type { AgentSpec, AgentsWorkerData, AgentsWorkerMessage } from './sync-bench-agents.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** `SITES` (issue #20) or `BENCH_SITES`: the federation's size. */
const SITES = envInt('SITES', envInt('BENCH_SITES', 200));
/**
 * BENCH_AGENTS: how many of the sites get a simulated agent (every SITES/BENCH_AGENTS-th site; default all). The
 * controller publishes every site either way (its CPU per write is the whole federation's); on a loaded 2-core
 * machine 1,000 agents took most of an hour to connect.
 */
const AGENTS = Math.min(envInt('BENCH_AGENTS', SITES), SITES);
/** BENCH_CDR_PHASE=0: the rollout only (the CDR phase needs a connection per site and minutes at 1,000 sites). */
const CDR_PHASE = process.env['BENCH_CDR_PHASE'] !== '0';
const EXT_PER_SITE = envInt('BENCH_EXT_PER_SITE', 50);
const WRITES = envInt('BENCH_WRITES', 20);
const CDRS = envInt('BENCH_CDRS', 50_000);
/** Worker threads hosting the agents (the agents' CPU work is spread over the machine's cores). */
const THREADS = envInt('BENCH_AGENT_THREADS', Math.min(4, availableParallelism()));
/** Agents of a worker thread that connect at once (sync-bench-agents.ts: the next batch starts once these have applied). */
const CONNECT_BATCH = envInt('BENCH_CONNECT_BATCH', 25);
/** Per site: CDRs published a second time with the same msg-id, and copies under a new msg-id. */
const DUPLICATES_PER_SITE = 5;
// The duplicates re-send each site's last CDRs, so every site needs at least that many.
if (CDR_PHASE && CDRS < DUPLICATES_PER_SITE * SITES) throw new Error(`BENCH_CDRS must be at least ${DUPLICATES_PER_SITE * SITES} (${DUPLICATES_PER_SITE} per site), got ${CDRS}`);
const APPLY_TIMEOUT_MS = 120_000;

const wallNow = (): number => performance.timeOrigin + performance.now();
const log = (msg: string): void => void process.stderr.write(`[bench:sync] ${msg}\n`);
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

/**
 * A worker thread does not run the parent's `--import tsx`: it registers tsx itself, then loads the TypeScript
 * worker (whose imports resolve through the `@fedpbx/source` condition, as in this process).
 */
const WORKER_BOOT = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(new URL('./sync-bench-agents.ts', import.meta.url).href)});`,
  )}`,
);

/** The agents' worker threads and what they have applied so far (latest revision per site, and when). */
class AgentFleet {
  readonly applied = new Map<string, { revision: number; at: number }[]>();
  private readonly workers: Worker[] = [];
  private waiters: (() => void)[] = [];

  async start(specs: readonly AgentSpec[], data: Omit<AgentsWorkerData, 'agents'>): Promise<void> {
    const shares = Array.from({ length: THREADS }, (_, t) => specs.filter((_, i) => i % THREADS === t)).filter((s) => s.length > 0);
    await Promise.all(
      shares.map(
        (agents) =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(WORKER_BOOT, { workerData: { ...data, agents } satisfies AgentsWorkerData, execArgv: ['--conditions=@fedpbx/source', ...(process.env['BENCH_AGENT_EXEC_ARGV']?.split(' ') ?? [])] });
            this.workers.push(w);
            w.once('error', reject);
            w.on('message', (m: AgentsWorkerMessage) => {
              if (m.type === 'started') resolve();
              if (m.type !== 'applied') return;
              const list = this.applied.get(m.siteId) ?? [];
              list.push({ revision: m.revision, at: m.at });
              this.applied.set(m.siteId, list);
              for (const wake of this.waiters.splice(0)) wake();
            });
          }),
      ),
    );
  }

  revision(siteId: string): number {
    return this.applied.get(siteId)?.at(-1)?.revision ?? 0;
  }

  /** When the site first had a revision newer than `after` in force (undefined: not yet). */
  appliedAfter(siteId: string, after: number): number | undefined {
    return this.applied.get(siteId)?.find((a) => a.revision > after)?.at;
  }

  /** Resolves when `done()` holds, re-checked after each apply; rejects after `timeoutMs`. */
  async until(done: () => boolean, what: string, timeoutMs = APPLY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Tells every agents thread to start or stop its CPU profile (BENCH_AGENT_PROFILE_DIR). */
  profile(what: 'profile-start' | 'profile-stop'): void {
    for (const w of this.workers) w.postMessage(what);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 10_000);
            w.on('message', (m: AgentsWorkerMessage) => {
              if (m.type !== 'stopped') return;
              clearTimeout(timer);
              void w.terminate().then(() => resolve());
            });
            w.postMessage('stop');
          }),
      ),
    );
  }
}

/**
 * One more agent for one site, in a process of its own: its CPU time (from /proc) is one agent's cost of the
 * rollout, apart from the fleet's (whose threads share this process with the bench), and its apply times are those
 * of an agent that does not queue behind 1,000 others in four threads. It uses the site's credentials and a state
 * dir of its own, as a second agent of the site would.
 */
class ProbeAgent {
  /** Each snapshot applied: its revision, when, and the CPU of the offer that applied it (sync-bench-agents.ts). */
  readonly applied: { revision: number; at: number; cpuMs?: number }[] = [];
  private child: ChildProcess | undefined;
  private waiters: (() => void)[] = [];

  /** Resolves once the probe has applied its first snapshot, compacted its heap and seen V8's memory reducer run. */
  async start(spec: AgentSpec, data: Omit<AgentsWorkerData, 'agents' | 'connectBatch'>): Promise<{ reducerRuns: number; waitedMs: number } | undefined> {
    const child = fork(fileURLToPath(new URL('./sync-bench-agents.ts', import.meta.url)), [], {
      // BENCH_PROBE_NODE_FLAGS: node flags for the probe alone (e.g. --trace-gc, whose lines go to stdout before the result).
      execArgv: ['--conditions=@fedpbx/source', '--import', 'tsx', ...(process.env['BENCH_PROBE_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '')],
      env: { ...process.env, BENCH_AGENTS_DATA: JSON.stringify({ ...data, agents: [spec], connectBatch: 1 } satisfies AgentsWorkerData) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the probe agent exited with ${code}`)));
      child.on('message', (m: AgentsWorkerMessage) => {
        if (m.type === 'started') resolve(m.settle);
        if (m.type !== 'applied') return;
        this.applied.push({ revision: m.revision, at: m.at, ...(m.cpuMs !== undefined ? { cpuMs: m.cpuMs } : {}) });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** Starts or stops its CPU profile (BENCH_AGENT_PROFILE_DIR: agents-thread-0.cpuprofile). */
  profile(what: 'profile-start' | 'profile-stop'): void {
    this.child?.send(what);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  revision(): number {
    return this.applied.at(-1)?.revision ?? 0;
  }

  appliedAfter(after: number): number | undefined {
    return this.applied.find((a) => a.revision > after)?.at;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    child.removeAllListeners('exit');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        resolve();
      }, 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.send('stop');
    });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-bench-sync-'));
  let nats: TestNatsServer | undefined;
  let db: TestDatabase | undefined;
  let controller: ControllerProcess | undefined;
  const fleet = new AgentFleet();
  const probe = new ProbeAgent();
  const agentConnections: NatsConnection[] = [];
  let pool: pg.Pool | undefined;
  let puts: Awaited<ReturnType<typeof watchPuts>> | undefined;
  try {
    nats = await startNatsServer();
    db = await createTestDatabase({ require: 'postgres' });
    pool = new pg.Pool({ connectionString: db.url!, max: 2 });
    const issuerFile = join(dir, 'nats-issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    const key = generateSigningKey('bench-key');
    const keyFile = join(dir, 'signing-key.pem');
    writeFileSync(keyFile, exportPrivateKey(key.privateKey), { mode: 0o600 });
    controller = await startController({
      DATABASE_URL: db.url!,
      FEDPBX_DATA_DIR: join(dir, 'controller'),
      FEDPBX_NATS_URL: nats.url,
      FEDPBX_NATS_ISSUER_FILE: issuerFile,
      FEDPBX_SIGNING_KEY_FILE: keyFile,
      FEDPBX_SIGNING_KEY_ID: key.keyId,
      FEDPBX_LOG_LEVEL: 'warn',
      // FEDPBX_SNAPSHOT_FORMAT=split|paired (the controller's default when unset): run both for a same-run A/B.
      ...(process.env['FEDPBX_SNAPSHOT_FORMAT'] !== undefined ? { FEDPBX_SNAPSHOT_FORMAT: process.env['FEDPBX_SNAPSHOT_FORMAT'] } : {}),
      // e.g. BENCH_CONTROLLER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the controller.
    }, process.env['BENCH_CONTROLLER_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? []);
    log(`nats-server ${nats.url}, database ${db.name}, controller ${controller.url} (pid ${controller.pid() ?? '?'})`);
    const token = await controller.adminToken();

    // 1. Import the federation; start the agents; wait for every first snapshot.
    const fed = generateFederation({ sites: SITES, extensionsPerSite: EXT_PER_SITE, flows: 0 });
    const i0 = wallNow();
    const imported = await controller.api('POST', '/api/v1/import', fed, token);
    if (imported.status !== 201) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body).slice(0, 2000)}`);
    log(`imported ${fed.sites.length} sites, ${fed.extensions.length} extensions in ${((wallNow() - i0) / 1000).toFixed(1)} s`);

    const specs: AgentSpec[] = [];
    const simulated = new Set(Array.from({ length: AGENTS }, (_, j) => Math.floor((j * SITES) / AGENTS)));
    for (const s of fed.sites.filter((_, i) => simulated.has(i))) {
      const stateDir = join(dir, 'agents', s.id);
      mkdirSync(stateDir, { recursive: true, mode: 0o750 });
      const credsFile = join(stateDir, 'nats.creds');
      writeFileSync(credsFile, await nats.agentCreds(s.id), { mode: 0o600 });
      chmodSync(credsFile, 0o600);
      specs.push({ siteId: s.id, stateDir, credsFile });
    }
    const putWatch = await watchPuts(nats);
    puts = putWatch;
    const a0 = wallNow();
    const profileDir = process.env['BENCH_AGENT_PROFILE_DIR'];
    const agentData = { natsUrl: nats.url, keyId: key.keyId, publicKeyPem: exportPublicKey(key.publicKey) };
    // The probe first: it starts, applies, compacts its heap and waits for V8's memory reducer (~40 s) while the
    // fleet connects.
    const probeSite = specs[specs.length - 1] as AgentSpec;
    const probeDir = join(dir, 'agents', `probe-${probeSite.siteId}`);
    mkdirSync(probeDir, { recursive: true, mode: 0o750 });
    const probeStarted = probe.start({ ...probeSite, stateDir: probeDir }, { ...agentData, ...(profileDir !== undefined ? { profileDir } : {}) });
    probeStarted.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    await fleet.start(specs, { ...agentData, connectBatch: CONNECT_BATCH, ...(profileDir !== undefined ? { profileDir } : {}) });
    await fleet.until(() => specs.every((s) => fleet.revision(s.siteId) > 0), 'every agent to apply its first snapshot');
    const connectS = (wallNow() - a0) / 1000;
    log(`${specs.length} agents in ${THREADS} worker thread(s), ${CONNECT_BATCH} at a time per thread, applied their first snapshot ${connectS.toFixed(1)} s after starting`);
    const probeSettle = await probeStarted;
    await fleet.until(() => probe.revision() > 0, 'the probe agent to apply its first snapshot');
    log(`probe agent: V8's memory reducer ran ${probeSettle?.reducerRuns ?? '?'} collection(s) after its boot compaction; waited ${r1((probeSettle?.waitedMs ?? 0) / 1000)} s (${r1((wallNow() - a0) / 1000)} s after the start)`);
    // What the probe spends with nothing to apply (heartbeats, status, watch heartbeats, NATS pings): taken off its
    // CPU over the writes, so that agent_cpu_ms_per_apply is the applies' (the write phase lasts minutes when loaded).
    const idle0 = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const idleT0 = wallNow();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const idle1 = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const idleS = (wallNow() - idleT0) / 1000;
    const probeIdleMsPerS = ((idle1.probe - idle0.probe) * 1000) / idleS;
    // The fleet's too (this process: the agents' heartbeats, status, watch heartbeats and NATS pings, ~100 agents'
    // worth): taken off its CPU over the writes for agents_cpu_ms_per_apply_fleet_net, so that runs whose write
    // phase lasted longer (a loaded machine, a slower rollout) are compared on their applies.
    const agentsIdleMsPerS = ((idle1.agents - idle0.agents) * 1000) / idleS;
    log(`probe agent for ${probeSite.siteId} (pid ${probe.pid ?? '?'}) applied its first snapshot; idle it uses ${r1(probeIdleMsPerS)} ms CPU per s`);

    // 2. Rollout: writes that change every site's view, one after another.
    fleet.profile('profile-start');
    probe.profile('profile-start');
    const cpuBefore = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const probeAppliedBefore = probe.applied.length;
    const probeThreadsBefore = threadCpuMs(probe.pid);
    const writesT0 = wallNow();
    const rolloutMs: number[] = [];
    const allAppliedMs: number[] = [];
    const writeMs: number[] = [];
    const publishedMs: number[] = [];
    const probeMs: number[] = [];
    for (let k = 0; k < WRITES; k++) {
      const before = new Map(specs.map((s) => [s.siteId, fleet.revision(s.siteId)]));
      const probeBefore = probe.revision();
      const site = (specs[(k * 37 + 11) % specs.length] as AgentSpec).siteId;
      const from = 900_000 + k * 100;
      const t0 = wallNow();
      const r = await controller.api('POST', '/api/v1/number-ranges', { id: `nr-bench-${k}`, siteId: site, from: String(from), to: String(from + 99) }, token);
      writeMs.push(wallNow() - t0);
      if (r.status !== 201) throw new Error(`write ${k}: ${r.status} ${JSON.stringify(r.body).slice(0, 2000)}`);
      await fleet.until(() => specs.every((s) => fleet.appliedAfter(s.siteId, before.get(s.siteId) ?? 0) !== undefined), `write ${k} to reach every agent`);
      await fleet.until(() => probe.appliedAfter(probeBefore) !== undefined, `write ${k} to reach the probe agent`);
      probeMs.push((probe.appliedAfter(probeBefore) ?? Number.NaN) - t0);
      const per = specs.map((s) => (fleet.appliedAfter(s.siteId, before.get(s.siteId) ?? 0) ?? Number.NaN) - t0);
      rolloutMs.push(...per);
      const lastPut = await putWatch.lastPutAt(specs.map((s) => s.siteId));
      const putAt = specs.map((s) => (lastPut.get(s.siteId) ?? Number.NaN) - t0);
      publishedMs.push(...putAt);
      allAppliedMs.push(Math.max(...per));
      log(`write ${k + 1}/${WRITES} (range at ${site}): API ${r1(writeMs.at(-1) ?? 0)} ms, first agent ${r1(Math.min(...per))} ms, all ${specs.length} ${r1(Math.max(...per))} ms; the controller's puts ${r1(Math.min(...putAt))}-${r1(Math.max(...putAt))} ms`);
    }

    const cpuAfter = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const writePhaseS = (wallNow() - writesT0) / 1000;
    fleet.profile('profile-stop');
    probe.profile('profile-stop');
    // The probe's applies of the write phase, each its offer's CPU (in its own process, every thread) in order.
    const probeThreadsAfter = threadCpuMs(probe.pid);
    const probeOfferMs = probe.applied.slice(probeAppliedBefore).flatMap((a) => (a.cpuMs !== undefined ? [a.cpuMs] : []));
    // The probe at rest again, after 2 s: the idle rate the net figure takes off, measured a second time - the
    // spread of the two says how far that subtraction can be trusted over a write phase of minutes.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleAfter0 = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const idleAfterT0 = wallNow();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const idleAfter1 = cpuSeconds(controller.pid(), nats.pid(), probe.pid);
    const probeIdleAfterMsPerS = ((idleAfter1.probe - idleAfter0.probe) * 1000) / ((wallNow() - idleAfterT0) / 1000);
    // From the first write to the end of those 12 s, less the rate at rest before the writes for as long: the applies
    // with what they leave behind - V8's memory reducer collects their old-space garbage once the process is quiet
    // again (its full collections run in the seconds after the writes, not during them).
    const withAftermathS = (wallNow() - writesT0) / 1000;
    const probeWithAftermath = Math.max(0, (idleAfter1.probe - cpuBefore.probe) * 1000 - probeIdleMsPerS * withAftermathS) / WRITES;
    log(`probe agent: ${probeOfferMs.length} applies, CPU in their offers (ms) ${probeOfferMs.map(r1).join(' ')}; idle ${r1(probeIdleMsPerS)} ms CPU per s before the writes, ${r1(probeIdleAfterMsPerS)} after`);

    // 2b. The common change: one extension at one site (in the range write k added there), which only that site's
    //     snapshot carries - from the request to that site's agent applying it.
    const singleSiteMs: number[] = [];
    for (let k = 0; k < WRITES; k++) {
      const site = (specs[(k * 37 + 11) % specs.length] as AgentSpec).siteId;
      const before = fleet.revision(site);
      const t0 = wallNow();
      const r = await controller.api('POST', '/api/v1/extensions', { siteId: site, number: String(900_000 + k * 100 + 1), displayName: `Bench ${k}` }, token);
      if (r.status !== 201) throw new Error(`extension write ${k}: ${r.status} ${JSON.stringify(r.body).slice(0, 2000)}`);
      await fleet.until(() => fleet.appliedAfter(site, before) !== undefined, `extension write ${k} to reach ${site}`);
      singleSiteMs.push((fleet.appliedAfter(site, before) ?? Number.NaN) - t0);
    }
    log(`one-site changes: applied at their site ${r1(pct(singleSiteMs, 50))} ms (p50), ${r1(pct(singleSiteMs, 99))} ms (p99) after the request`);
    const cpuPerWrite = (k: keyof typeof cpuAfter) => r1(((cpuAfter[k] - cpuBefore[k]) * 1000) / WRITES);
    const rolloutCpu = { controller: cpuPerWrite('controller'), nats: cpuPerWrite('nats'), agents: cpuPerWrite('agents'), probe: cpuPerWrite('probe') };
    log(`CPU per write (ms): controller ${rolloutCpu.controller}, nats-server ${rolloutCpu.nats}, the ${specs.length} agents ${rolloutCpu.agents} (this process), the probe agent ${rolloutCpu.probe} (its own process)`);

    // 3. (BENCH_CDR_PHASE=0 skips it: a rollout-only run, e.g. at 1,000 sites)
    const cdr = !CDR_PHASE ? undefined : await (async () => {
      // 3. CDR ingest with duplicates, exactly once into PostgreSQL: live (published while the controller consumes),
      //    then a backlog drained by a restarted controller.
      const sites = specs.map((s) => s.siteId);
      const perSite = Math.ceil(CDRS / sites.length);
      for (const siteId of sites) {
        agentConnections.push(
          await connect({
            servers: nats.url,
            authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds(siteId))),
            inboxPrefix: Subjects.inboxPrefix(siteId),
          }),
        );
      }
      let droppedByNats = 0;
      /** Every site's CDRs number `from`..`from + perSite - 1`, then duplicates of the last few of them. */
      const publishAll = (from: number) =>
        Promise.all(
          sites.map(async (siteId, i) => {
            const nc = agentConnections[i] as NatsConnection;
            const first = await publishCdrs(nc, siteId, perSite, { from, window: 20 });
            const again = await publishCdrs(nc, siteId, DUPLICATES_PER_SITE, { from: from + perSite - DUPLICATES_PER_SITE, window: DUPLICATES_PER_SITE });
            droppedByNats += first.duplicates + again.duplicates;
            const js = jetstream(nc);
            for (let n = 0; n < DUPLICATES_PER_SITE; n++) {
              const env = cdrEnvelope(siteId, from + perSite - 1 - n, { id: `${siteId}-cdr-${from + perSite - 1 - n}-republished` });
              await js.publish(Subjects.eventSubject(siteId, 'cdr'), JSON.stringify(env), { msgID: env.id });
            }
          }),
        );
      const waitFor = async (expected: number, what: string): Promise<{ rows: number; distinct: number }> => {
        const w0 = wallNow();
        for (let lastLog = w0; ; ) {
          const counts = await countAll(pool as pg.Pool);
          if (counts.distinct >= expected || wallNow() - w0 > 300_000) return counts;
          if (wallNow() - lastLog > 2000) {
            lastLog = wallNow();
            log(`  ${what}: ${counts.distinct}/${expected} CDRs stored after ${((wallNow() - w0) / 1000).toFixed(1)} s`);
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      };

      // 3a. Live: the agents' publishing and the controller's consuming at once (bounded by the publishers here).
      const live = perSite * sites.length;
      log(`live: publishing ${live} CDRs (${perSite} per site) + ${DUPLICATES_PER_SITE * 2 * sites.length} duplicates while the controller consumes ...`);
      const c0 = wallNow();
      const publishing = publishAll(0);
      let cdrPublishMs = Number.NaN;
      void publishing.then(() => (cdrPublishMs = wallNow() - c0));
      await waitFor(live, 'live');
      const liveMs = wallNow() - c0;
      await publishing;
      const liveCounts = await countAll(pool);
      const livePerS = Math.round(liveCounts.distinct / (liveMs / 1000));
      log(`live: ${liveCounts.distinct} distinct CDRs stored in ${(liveMs / 1000).toFixed(2)} s (${livePerS}/s); publishing took ${(cdrPublishMs / 1000).toFixed(2)} s`);

      // 3b. Backlog: the controller down while the agents publish, then started: how fast it drains into PostgreSQL,
      //     from its first stored CDR of the backlog to the last.
      await controller.stop();
      log(`backlog: controller stopped; publishing ${live} more CDRs + duplicates ...`);
      await publishAll(perSite);
      const expected = 2 * live;
      // Watched from before the start (the controller starts ingesting before it answers HTTP): the first poll
      // that sees a CDR of the backlog stored, and the first that sees them all (polls 25 ms apart).
      let firstSeenAt = Number.NaN;
      const draining = (async () => {
        const d0 = wallNow();
        for (let lastLog = d0; ; ) {
          const c = await countAll(pool as pg.Pool);
          if (Number.isNaN(firstSeenAt) && c.distinct > liveCounts.distinct) firstSeenAt = wallNow();
          if (c.distinct >= expected || wallNow() - d0 > 300_000) return wallNow();
          if (wallNow() - lastLog > 2000) {
            lastLog = wallNow();
            log(`  backlog: ${c.distinct}/${expected} CDRs stored after ${((wallNow() - d0) / 1000).toFixed(1)} s`);
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      await controller.start();
      const drainedAt = await draining;
      const drainMs = drainedAt - firstSeenAt;
      // Late copies (the re-published ones) would land after the last distinct row: give them time, then count.
      await new Promise((r) => setTimeout(r, 2000));
      const counts = await countAll(pool);
      const ingestPerS = Math.round((counts.distinct - liveCounts.distinct) / (drainMs / 1000));
      log(`backlog: ${counts.distinct - liveCounts.distinct} CDRs drained in ${(drainMs / 1000).toFixed(2)} s (${ingestPerS}/s); in all ${counts.distinct} distinct CDRs (${counts.rows} rows); NATS dropped ${droppedByNats} same-msg-id re-publishes`);
      return { ingestPerS, livePerS, lost: expected - counts.distinct, duplicated: counts.rows - counts.distinct, expected, duplicatesSent: DUPLICATES_PER_SITE * 2 * sites.length, publishPerS: Math.round(live / (cdrPublishMs / 1000)) };
    })();

    const result = {
      rollout_p50_ms: r1(pct(rolloutMs, 50)),
      rollout_p99_ms: r1(pct(rolloutMs, 99)),
      cdr_ingest_per_s: cdr?.ingestPerS ?? null,
      cdr_live_ingest_per_s: cdr?.livePerS ?? null,
      cdr_lost: cdr?.lost ?? null,
      cdr_duplicated: cdr?.duplicated ?? null,
      rollout_one_site_p50_ms: r1(pct(singleSiteMs, 50)),
      rollout_one_site_p99_ms: r1(pct(singleSiteMs, 99)),
      rollout_all_applied_p50_ms: r1(pct(allAppliedMs, 50)),
      rollout_all_applied_max_ms: r1(Math.max(...allAppliedMs)),
      published_p50_ms: r1(pct(publishedMs, 50)),
      published_p99_ms: r1(pct(publishedMs, 99)),
      write_p50_ms: r1(pct(writeMs, 50)),
      cpu_ms_per_write: rolloutCpu,
      // Issue #20 §1: the controller's CPU per plan-wide write (its process, from /proc), and one agent's CPU per
      // apply: the probe agent's process over the writes, less what it spends idle (measured for 10 s before) for as long.
      controller_cpu_ms_per_write: rolloutCpu.controller,
      agent_cpu_ms_per_apply: Math.round(Math.max(0, rolloutCpu.probe - (probeIdleMsPerS * writePhaseS) / WRITES) * 100) / 100,
      // The same with the idle rate measured after the writes instead (a spread from the one before = the
      // subtraction's error: the idle rate times a write phase of minutes, over WRITES applies).
      agent_cpu_ms_per_apply_idle_after: Math.round(Math.max(0, rolloutCpu.probe - (probeIdleAfterMsPerS * writePhaseS) / WRITES) * 100) / 100,
      agent_cpu_ms_per_apply_with_aftermath: r2(probeWithAftermath),
      // Measured without a subtraction: the probe's CPU (all its threads) while its applier held each value, from
      // the watcher's handover to the applier's answer - verify, store, compile; not the NATS client's receipt.
      agent_cpu_ms_per_apply_in_offer: r2(pct(probeOfferMs, 50)),
      agent_cpu_ms_per_apply_in_offer_mean: r2(probeOfferMs.reduce((a, b) => a + b, 0) / Math.max(1, probeOfferMs.length)),
      agent_cpu_ms_per_apply_in_offer_first: r2(probeOfferMs[0] ?? Number.NaN),
      agent_cpu_ms_per_apply_in_offer_max: r2(Math.max(...probeOfferMs)),
      agent_cpu_how: `agent_cpu_ms_per_apply: the probe agent's process (a fresh one, its first snapshot applied and the collections V8's memory reducer runs once after its boot compaction done before its idle window) over the ${WRITES} writes, less its idle CPU rate (10 s before the writes) times the write phase's ${r1(writePhaseS)} s, per write; _idle_after: the same with the rate of 10 s after; _with_aftermath: from the first write to 12 s after the last (the collections of the applies' garbage that V8 runs once the process is quiet) less the rate before for as long; _in_offer: median of the CPU (all threads) while its applier held each value`,
      probe_cpu_ms_per_write_gross: rolloutCpu.probe,
      // The gross figure by thread: the main thread (JS, and V8's GC work there) and the others (V8's concurrent GC
      // and compiler threads, libuv's pool: the store's write).
      probe_threads_ms_per_write_gross: { main: r2((probeThreadsAfter.main - probeThreadsBefore.main) / WRITES), others: r2((probeThreadsAfter.others - probeThreadsBefore.others) / WRITES) },
      probe_idle_cpu_ms_per_s: r2(probeIdleMsPerS),
      probe_idle_cpu_ms_per_s_after: r2(probeIdleAfterMsPerS),
      // Before its idle window: the collections V8's memory reducer runs once after the boot compaction, and the wait.
      probe_memory_reducer_runs: probeSettle?.reducerRuns ?? null,
      probe_memory_reducer_wait_s: r1((probeSettle?.waitedMs ?? Number.NaN) / 1000),
      // The fleet's CPU (this process: the agents' threads and the bench's bookkeeping) per (write, site).
      agents_cpu_ms_per_apply_fleet: Math.round((rolloutCpu.agents / specs.length) * 100) / 100,
      // The same less what the fleet spends at rest over as long as the write phase lasted.
      agents_cpu_ms_per_apply_fleet_net: Math.round((Math.max(0, rolloutCpu.agents - (agentsIdleMsPerS * writePhaseS) / WRITES) / specs.length) * 100) / 100,
      agents_idle_cpu_ms_per_s: r1(agentsIdleMsPerS),
      agents: specs.length,
      probe_rollout_p50_ms: r1(pct(probeMs, 50)),
      probe_rollout_p99_ms: r1(pct(probeMs, 99)),
      rollout_how: `request sent -> each agent's new snapshot in force, wall clock; ${specs.length} agents (of ${SITES} sites; the controller publishes all) in ${THREADS} worker threads of one process beside the controller, nats-server and PostgreSQL on ${availableParallelism()} cores (the fleet's queueing is in the figure); probe_rollout_*: one more agent in its own process`,
      connect_s: r1(connectS),
      load_average: loadavg().map((l) => Math.round(l * 10) / 10),
      sites: SITES,
      snapshot_format: process.env['FEDPBX_SNAPSHOT_FORMAT'] ?? 'split',
      extensions_per_site: EXT_PER_SITE,
      writes: WRITES,
      agent_threads: THREADS,
      cdrs: cdr?.expected ?? 0,
      cdr_duplicates_sent: cdr?.duplicatesSent ?? 0,
      cdr_publish_per_s: cdr?.publishPerS ?? null,
    };
    log(`rollout p50 ${result.rollout_p50_ms} ms, p99 ${result.rollout_p99_ms} ms (target < 1000: ${result.rollout_p99_ms < 1000 ? 'met' : 'MISSED'}); ingest ${cdr?.ingestPerS ?? '-'} CDR/s (target >= 5000: ${cdr === undefined ? 'not run' : cdr.ingestPerS >= 5000 ? 'met' : 'MISSED'})`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await Promise.all([...agentConnections, ...(puts !== undefined ? [puts.nc] : [])].map((nc) => nc.close().catch(() => undefined)));
    await fleet.stop();
    await probe.stop();
    await controller?.stop();
    await nats?.stop();
    await pool?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * When each site's latest snapshot reached NATS: the time JetStream stored the last message of the site's KV
 * stream, asked with controller credentials once every agent has applied a write (no snapshot payloads travel to
 * this process). Splits the rollout time into the controller's part (write, build, sign, put) and the agents'
 * part (receive, verify, store, compile).
 */
async function watchPuts(nats: TestNatsServer): Promise<{ nc: NatsConnection; lastPutAt(siteIds: readonly string[]): Promise<Map<string, number>> }> {
  const nc = await connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.controllerCreds())) });
  const jsm = await jetstreamManager(nc);
  return {
    nc,
    // The later of the site's bucket and the shared bucket: a plan-wide write in the paired format puts no site part.
    async lastPutAt(siteIds) {
      const out = new Map<string, number>();
      const shared = Date.parse((await jsm.streams.info(`KV_${Subjects.SHARED_BUCKET}`)).state.last_ts);
      await Promise.all(
        siteIds.map(async (siteId) => {
          const info = await jsm.streams.info(`KV_${Subjects.configBucket(siteId)}`);
          out.set(siteId, Math.max(shared, Date.parse(info.state.last_ts)));
        }),
      );
      return out;
    },
  };
}

/**
 * CPU ms so far of a process's main thread and of its other threads (V8's platform threads - concurrent GC and
 * compilers - and libuv's pool), from /proc schedstat (ns on CPU).
 */
function threadCpuMs(pid: number | undefined): { main: number; others: number } {
  if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return { main: Number.NaN, others: Number.NaN };
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let ns: number;
    try {
      ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // a thread that ended meanwhile
    }
    if (Number(tid) === pid) main += ns / 1e6;
    else others += ns / 1e6;
  }
  return { main, others };
}

/** CPU seconds (user + system) so far of the controller, nats-server and probe processes and of this process (the agents). */
function cpuSeconds(controllerPid: number | undefined, natsPid: number | undefined, probePid: number | undefined): { controller: number; nats: number; agents: number; probe: number } {
  const ticks = 100; // USER_HZ on Linux
  const of = (pid: number | undefined): number => {
    if (pid === undefined) return Number.NaN;
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(rest[11]) + Number(rest[12])) / ticks;
  };
  const own = process.cpuUsage();
  // The probe's in ns (schedstat, each thread): its idle rate over 10 s in ticks of 10 ms was a step of 1 ms per s,
  // which the net figure multiplies by the write phase (20 s to minutes) - up to 2 ms per apply of rounding alone.
  const probe = threadCpuMs(probePid);
  return { controller: of(controllerPid), nats: of(natsPid), agents: (own.user + own.system) / 1e6, probe: (probe.main + probe.others) / 1000 };
}

async function countAll(pool: pg.Pool): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT (site_id, cdr_id)) AS distinct FROM cdrs`);
  return { rows: Number(r.rows[0]?.rows ?? 0), distinct: Number(r.rows[0]?.distinct ?? 0) };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:sync: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
