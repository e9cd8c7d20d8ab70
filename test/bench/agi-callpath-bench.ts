// npm run bench:agi-callpath - the agent's FastAGI call path in one process, without sockets: the environment's
// bytes parsed, the call routed on bench:agi's 100,000-extension head office, its command lines built and its
// answers read, through the agent's own AgiServer, AgiSession and CallHandler - only the socket is a stand-in (an
// object that hands each command line to a scripted Asterisk and feeds the answer back from the next turn of the
// event loop, as a read would). What it shows that bench:agi cannot: our code's CPU and heap allocation per call
// without the kernel's loopback TCP and Node's stream machinery (two thirds of a real call's CPU), so a change of a
// few percent of our share stands out of the machine's noise. The stand-in's own cost is in every figure, the same
// for any build (compare builds by running this script in each checkout, alternating).
//
// Figures per round (BENCH_ROUNDS, default 7, of BENCH_CALLS calls, default 20,000, after a warm-up of as many):
// CPU µs per call (process.cpuUsage, user + system) and heap bytes allocated per call (V8's per-GC statistics, as
// servers/alloc-probe.ts counts them); the last line is JSON with the medians and [min, max]. BENCH_HEAP_TOP=n adds
// a sampling heap profile of one more round (collected objects included) and prints its n largest allocation sites
// per call; `node --cpu-prof` gives the CPU profile.
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-callpath-bench.ts
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { AgiServer } from '../../apps/agent/src/agi/agi-server.js';
import { ActiveCalls } from '../../apps/agent/src/call/active-calls.js';
import { CallHandler } from '../../apps/agent/src/call/call-handler.js';
import { createLogger } from '../../apps/agent/src/logger.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { TestController } from '../support/signed-snapshots.js';
import { AGENT_MIX, BENCH_SITE, benchFederation } from './agent-bench-setup.js';
import { answerTo, envBlock } from './stand-in-asterisk.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
/** Calls in flight at once (bench:agi's open loop has a few; its closed loop 200). */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

/** Answers waiting for the next turn of the event loop, as reads would bring them. */
const inbox: { socket: StandInSocket; bytes: Buffer }[] = [];
let deliveryScheduled = false;

function deliverLater(socket: StandInSocket, bytes: Buffer): void {
  inbox.push({ socket, bytes });
  if (!deliveryScheduled) {
    deliveryScheduled = true;
    setImmediate(deliver);
  }
}

function deliver(): void {
  deliveryScheduled = false;
  const batch = inbox.splice(0);
  for (const { socket, bytes } of batch) socket.receive(bytes);
}

/**
 * The socket's stand-in: what AgiServer and AgiSession use of a socket (listeners, write, end, destroy). An
 * EventEmitter, as a Duplex is; not a net.Socket, so the session reads through 'data'.
 */
class StandInSocket extends EventEmitter {
  private closed = false;

  constructor(private readonly onClosed: () => void) {
    super();
  }

  setNoDelay(): this {
    return this;
  }

  write(line: string): boolean {
    if (!this.closed) deliverLater(this, answerTo(line));
    return true;
  }

  /** Our half-close: Asterisk closes its side at once. */
  end(): this {
    setImmediate(() => this.close());
    return this;
  }

  destroy(): this {
    this.close();
    return this;
  }

  receive(bytes: Buffer): void {
    if (!this.closed) this.emit('data', bytes);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', false);
    this.onClosed();
  }
}

let freedBytes = 0;
let profiler = new v8.GCProfiler();
profiler.start();

/** Heap bytes allocated since start (what every GC freed + the heap in use), as servers/alloc-probe.ts counts. */
function allocatedBytes(): number {
  const result = profiler.stop() as { statistics?: readonly { beforeGC: { heapStatistics: { usedHeapSize: number } }; afterGC: { heapStatistics: { usedHeapSize: number } } }[] } | undefined;
  for (const gc of result?.statistics ?? []) freedBytes += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  profiler = new v8.GCProfiler();
  profiler.start();
  return freedBytes + v8.getHeapStatistics().used_heap_size;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const state = new RoutingState();
  state.apply(new TestController().snapshot(benchFederation(), BENCH_SITE, 1));
  const metrics = new AgentMetrics(false);
  const log = createLogger('warn');
  const handler = new CallHandler(state, metrics, log, undefined, new ActiveCalls());
  const server = new AgiServer({ host: '127.0.0.1', port: 0, maxSessions: 100_000, idleTimeoutMs: 120_000 }, handler, metrics, log);
  // The server's connection listener, without a listener socket.
  const accept = (server as unknown as { accept(socket: Socket): void }).accept.bind(server);

  // The mix as bench:agi weighs it, one environment block per template (the uniqueid varies little in length).
  const envs: Buffer[] = [];
  for (const template of AGENT_MIX) for (let w = 0; w < template.weight; w++) envs.push(envBlock(template, envs.length));
  let placed = 0;

  /** Runs `count` calls, `CONCURRENCY` at a time; resolves when the last one's socket is closed. */
  const runCalls = (count: number): Promise<void> =>
    new Promise((resolve) => {
      let started = 0;
      let finished = 0;
      const place = (): void => {
        started += 1;
        const socket = new StandInSocket(() => {
          finished += 1;
          if (started < count) place();
          else if (finished === count) resolve();
        });
        accept(socket as unknown as Socket);
        deliverLater(socket, envs[placed++ % envs.length] as Buffer);
      };
      for (let i = 0; i < Math.min(CONCURRENCY, count); i++) place();
    });

  await runCalls(CALLS);
  const cpuUs: number[] = [];
  const bytes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const allocBefore = allocatedBytes();
    const cpuBefore = process.cpuUsage();
    await runCalls(CALLS);
    const cpu = process.cpuUsage(cpuBefore);
    const allocated = allocatedBytes() - allocBefore;
    cpuUs.push((cpu.user + cpu.system) / CALLS);
    bytes.push(allocated / CALLS);
    console.log(`round ${round + 1}: ${((cpu.user + cpu.system) / CALLS).toFixed(2)} µs CPU, ${(allocated / CALLS / 1024).toFixed(2)} KB per call`);
  }
  const top = Number(process.env.BENCH_HEAP_TOP ?? 0);
  if (top > 0) await heapTop(() => runCalls(CALLS), top);
  if (server.activeSessions !== 0) throw new Error(`${server.activeSessions} sessions left open`);
  const spread = (values: readonly number[], scale: number): [number, number] => [Math.min(...values) / scale, Math.max(...values) / scale].map((v) => Number(v.toFixed(2))) as [number, number];
  console.log(
    JSON.stringify({
      calls_per_round: CALLS,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      cpu_us_per_call: Number(median(cpuUs).toFixed(2)),
      cpu_us_spread: spread(cpuUs, 1),
      alloc_kb_per_call: Number((median(bytes) / 1024).toFixed(2)),
      alloc_kb_spread: spread(bytes, 1024),
    }),
  );
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/** Runs `work` under V8's sampling heap profiler (objects collected since included) and prints the top sites per call. */
async function heapTop(work: () => Promise<void>, top: number): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await work();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  const walk = (node: ProfileNode): void => {
    const frame = node.callFrame;
    const site = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(apps|libs|node_modules|test)\//, '$1/')}:${frame.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  console.log(`sampled: ${(total / CALLS / 1024).toFixed(2)} KB per call; largest sites (bytes per call):`);
  for (const [site, size] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${String(Math.round(size / CALLS)).padStart(6)}  ${site}`);
}

await main();
