// A worker thread of npm run bench:sync hosting a share of the 200 agents: each one is the agent's own sync
// stack, wired as apps/agent/src/agent.ts wires it (RoutingState, SnapshotStore in its own state dir,
// SnapshotApplier, CdrOutbox, SyncClient with its own NATS connection and credentials) - only FastAGI, AMI and
// the metrics listener are left out. Every snapshot that comes into force is reported to the main thread with
// the wall-clock time (performance.timeOrigin + now, comparable across threads).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { destination, pino } from 'pino';
import { importPublicKey } from '@fedpbx/signing';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { CdrOutbox } from '../../apps/agent/src/state/cdr-outbox.js';
import { compactHeap } from '../../apps/agent/src/state/heap.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { SnapshotApplier } from '../../apps/agent/src/state/snapshot-applier.js';
import { SnapshotStore } from '../../apps/agent/src/state/snapshot-store.js';
import { SyncClient } from '../../apps/agent/src/sync/sync-client.js';

export interface AgentSpec {
  readonly siteId: string;
  readonly stateDir: string;
  readonly credsFile: string;
}

export interface AgentsWorkerData {
  readonly agents: readonly AgentSpec[];
  readonly natsUrl: string;
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** When set, the thread profiles its CPU from 'profile-start' to 'profile-stop' into a .cpuprofile file here. */
  readonly profileDir?: string;
  /**
   * Agents started at once: each batch is connected and has applied its first snapshot (or 60 s passed) before the
   * next starts. A thousand agents connecting together overran nats-server's authentication timeout (2 s: the
   * server checks each connection's JWT chain) on a loaded machine: 970-990 of 1,000 were refused and retried.
   */
  readonly connectBatch: number;
}

/** Worker -> main: started, one snapshot applied, or stopped. */
export type AgentsWorkerMessage =
  /** `settle` (the probe only): how it waited for V8's memory reducer after its boot compaction (memoryReducerDone). */
  | { readonly type: 'started'; readonly settle?: { readonly reducerRuns: number; readonly waitedMs: number } }
  /**
   * `cpuMs` (the probe only): the process's CPU, all threads, while its applier held the values that made this
   * snapshot - from the watcher handing a value over to the applier's answer (verify, store, compile), whatever else
   * ran meanwhile included; not the NATS client's receipt before it, nor collections after it.
   */
  | { readonly type: 'applied'; readonly siteId: string; readonly revision: number; readonly at: number; readonly cpuMs?: number }
  | { readonly type: 'stopped' };

/**
 * Runs as a worker thread of sync-bench.ts (the fleet), or as a child process of it (the probe agent: one agent in
 * a process of its own, so its CPU time can be read from /proc apart from the fleet's), data in BENCH_AGENTS_DATA.
 */
interface Port {
  postMessage(m: AgentsWorkerMessage): void;
  on(event: 'message', listener: (m: unknown) => void): void;
  close(): void;
}
const port: Port | undefined =
  parentPort ??
  (process.send !== undefined
    ? { postMessage: (m) => void process.send?.(m), on: (event, listener) => void process.on(event, listener), close: () => process.disconnect() }
    : undefined);
if (port === undefined) throw new Error('sync-bench-agents.ts runs as a worker thread or child process of sync-bench.ts');
const data = (parentPort !== null ? workerData : JSON.parse(process.env['BENCH_AGENTS_DATA'] ?? 'null')) as AgentsWorkerData;
// Warnings and errors only, on stderr: stdout belongs to the bench's result line.
const log = pino({ name: 'fedpbx-agent', level: process.env['BENCH_AGENT_LOG_LEVEL'] ?? 'warn' }, destination(2));
const keys = [importPublicKey(data.keyId, data.publicKeyPem)];
const wallNow = (): number => performance.timeOrigin + performance.now();

/** Starts one agent's sync stack; resolves with it once its first snapshot is in force. */
const startAgent = async (a: AgentSpec): Promise<{ sync: SyncClient; firstApplied: Promise<void> }> => {
  const agentLog = log.child({ site: a.siteId });
  const metrics = new AgentMetrics();
  const state = new RoutingState();
  const store = new SnapshotStore(a.stateDir, a.siteId, keys);
  await store.init();
  const applier = new SnapshotApplier(a.siteId, keys, store, state, metrics, agentLog);
  // The probe (a process of its own) reports a snapshot applied by an offer once the offer is answered, with its CPU.
  let pending: { revision: number; at: number } | undefined;
  const offers =
    parentPort !== null
      ? undefined
      : applyWindow(applier, (cpuMs) => {
          if (pending === undefined) return false;
          port.postMessage({ type: 'applied', siteId: a.siteId, ...pending, cpuMs } satisfies AgentsWorkerMessage);
          pending = undefined;
          return true;
        });
  let revision = 0;
  let applied: () => void = () => undefined;
  const firstApplied = new Promise<void>((resolve) => (applied = resolve));
  state.onChange(() => {
    if (state.revision === revision) return; // a link/trunk health change, not a snapshot
    revision = state.revision;
    applied();
    if (offers?.inFlight() === true) pending = { revision, at: wallNow() };
    else port.postMessage({ type: 'applied', siteId: a.siteId, revision, at: wallNow() } satisfies AgentsWorkerMessage);
  });
  const sync = new SyncClient({
    siteId: a.siteId,
    stateDir: a.stateDir,
    servers: [data.natsUrl],
    credsFile: a.credsFile,
    agentVersion: 'bench',
    state,
    applier,
    cdrOutbox: new CdrOutbox(a.stateDir),
    metrics,
    log: agentLog,
    agiSessionsActive: () => 0,
    amiConnected: () => false,
  });
  await sync.start();
  return { sync, firstApplied };
};

/**
 * The probe's CPU while its applier holds a value (process.cpuUsage: every thread of the process), from the watcher
 * handing a value over until the applier answers; `done` gets the sum since it last took one once no offer is in
 * flight (an offer that applied nothing - a part waiting for its pair - counts to the next that does).
 */
function applyWindow(applier: SnapshotApplier, done: (cpuMs: number) => boolean): { inFlight: () => boolean } {
  let held = 0;
  let since = 0;
  let sum = 0;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      if (held++ === 0) since = cpu();
      try {
        return await f(...a);
      } finally {
        if (--held === 0) {
          sum += cpu() - since;
          if (done(sum)) sum = 0;
        }
      }
    };
  applier.offerSharedValue = wrap(applier.offerSharedValue.bind(applier));
  applier.offerShared = wrap(applier.offerShared.bind(applier));
  applier.offerText = wrap(applier.offerText.bind(applier));
  return { inFlight: () => held > 0 };
}

/** The longest the probe waits for V8's memory reducer after its boot compaction (memoryReducerDone). */
const PROBE_SETTLE_MAX_MS = 120_000;

/**
 * Resolves once V8's memory reducer has run the collections that the boot compaction armed (or after `maxMs`): a
 * major collection that collects all external memory (kGCCallbackFlagCollectAllExternalMemory: the reducer's), then
 * 3 s without another (it runs up to three, ~0.5 s apart). The reducer starts once its samples say the process
 * allocates slowly: ~40 s after the compaction in an idle process (53 s at load 30). An agent pays it once after its
 * start; the probe, measured before it ran, paid it (2 x 35-85 ms at load 16-30) in its idle window before the writes
 * (idle 10 ms/s instead of 1-2: `agent_cpu_ms_per_apply` 0) or in the 12 s after them (`_idle_after`,
 * `_with_aftermath`): a cost of the boot, counted as the applies'.
 */
function memoryReducerDone(maxMs: number): Promise<{ reducerRuns: number; waitedMs: number }> {
  const t0 = performance.now();
  let reducerRuns = 0;
  return new Promise((resolve) => {
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(giveUp);
      clearTimeout(quiet);
      observer.disconnect();
      resolve({ reducerRuns, waitedMs: Math.round(performance.now() - t0) });
    };
    const giveUp = setTimeout(done, maxMs);
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const { kind, flags } = (e as PerformanceEntry & { detail: { kind: number; flags: number } }).detail;
        if (kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
        if ((flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY) !== 0) reducerRuns++;
        clearTimeout(quiet);
        if (reducerRuns > 0) quiet = setTimeout(done, 3000);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  });
}

const clients: SyncClient[] = [];
for (let i = 0; i < data.agents.length; i += data.connectBatch) {
  const batch = await Promise.all(data.agents.slice(i, i + data.connectBatch).map(startAgent));
  clients.push(...batch.map((b) => b.sync));
  // Connected and applied, or given time: an agent that is still not connected goes on retrying on its own.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(batch.map((b) => b.firstApplied)), new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
}
// The probe's heap as a real agent's (agent.ts): a restarted agent compacts its heap once its snapshot is in force
// (and keeps V8's growth limit at 50%, so its full collections come sooner); without it the probe collected the
// ~15 MB its first snapshot left - a one-time ~180 ms of concurrent marking - during the writes, 9 ms per write.
if (parentPort === null) {
  await compactHeap();
  port.postMessage({ type: 'started', settle: await memoryReducerDone(PROBE_SETTLE_MAX_MS) } satisfies AgentsWorkerMessage);
} else port.postMessage({ type: 'started' } satisfies AgentsWorkerMessage);

let profiler: Session | undefined;
port.on('message', (msg: unknown) => {
  if (msg === 'profile-start' && data.profileDir !== undefined) {
    profiler = new Session();
    profiler.connect();
    void profiler.post('Profiler.enable').then(() => profiler?.post('Profiler.start'));
    return;
  }
  if (msg === 'profile-stop' && profiler !== undefined) {
    const session = profiler;
    profiler = undefined;
    void session.post('Profiler.stop').then(({ profile }) => {
      writeFileSync(join(data.profileDir as string, `agents-thread-${threadId}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    });
    return;
  }
  if (msg !== 'stop') return;
  void Promise.all(clients.map((c) => c.stop())).then(() => {
    port.postMessage({ type: 'stopped' } satisfies AgentsWorkerMessage);
    port.close();
  });
});
