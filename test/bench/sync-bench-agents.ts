// A worker thread of npm run bench:sync hosting a share of the 200 agents: each one is the agent's own sync
// stack, wired as apps/agent/src/agent.ts wires it (RoutingState, SnapshotStore in its own state dir,
// SnapshotApplier, CdrOutbox, SyncClient with its own NATS connection and credentials) - only FastAGI, AMI and
// the metrics listener are left out. Every snapshot that comes into force is reported to the main thread with
// the wall-clock time (performance.timeOrigin + now, comparable across threads).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { destination, pino } from 'pino';
import { importPublicKey } from '@fedpbx/signing';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { CdrOutbox } from '../../apps/agent/src/state/cdr-outbox.js';
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
}

/** Worker -> main: started, one snapshot applied, or stopped. */
export type AgentsWorkerMessage =
  | { readonly type: 'started' }
  | { readonly type: 'applied'; readonly siteId: string; readonly revision: number; readonly at: number }
  | { readonly type: 'stopped' };

const port = parentPort;
if (port === null) throw new Error('sync-bench-agents.ts runs as a worker thread of sync-bench.ts');
const data = workerData as AgentsWorkerData;
// Warnings and errors only, on stderr: stdout belongs to the bench's result line.
const log = pino({ name: 'fedpbx-agent', level: process.env['BENCH_AGENT_LOG_LEVEL'] ?? 'warn' }, destination(2));
const keys = [importPublicKey(data.keyId, data.publicKeyPem)];
const wallNow = (): number => performance.timeOrigin + performance.now();

const clients = await Promise.all(
  data.agents.map(async (a) => {
    const agentLog = log.child({ site: a.siteId });
    const metrics = new AgentMetrics();
    const state = new RoutingState();
    const store = new SnapshotStore(a.stateDir, a.siteId, keys);
    await store.init();
    const applier = new SnapshotApplier(a.siteId, keys, store, state, metrics, agentLog);
    let revision = 0;
    state.onChange(() => {
      if (state.revision === revision) return; // a link/trunk health change, not a snapshot
      revision = state.revision;
      port.postMessage({ type: 'applied', siteId: a.siteId, revision, at: wallNow() } satisfies AgentsWorkerMessage);
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
    return sync;
  }),
);
port.postMessage({ type: 'started' } satisfies AgentsWorkerMessage);

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
