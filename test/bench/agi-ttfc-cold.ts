// npm run bench:agi-ttfc-cold - the agent's time from the environment's bytes to its first command with the caches
// cold, in one process, builds compared call by call. On the shared 2-core machine other tenants evict the agent's
// code and data between two calls, and the path to the first command costs ~100-150 µs cold against ~25 warm: that
// cold cost is what bench:agi's TTFC p50 holds over the floor's, and a step that saves a few µs of it is lost in the
// noise of bench:agi or bench:agi-ttfc (rounds of one build swing by 20-40 µs as the load moves).
//
// Here every build (BENCH_COLD_CHECKOUTS, comma-separated checkout paths; default this one) is loaded into the same
// process on bench:agi's 100,000-extension head office, with its own AgiServer, AgiSession and CallHandler. Each
// call of bench:agi's agent mix is placed on every build in turn (the order rotated per call), each time right after
// a sweep over 48 MB that evicts the caches (BENCH_COLD_SWEEP_MB); the socket is a stand-in (bench:agi-callpath's:
// the session reads through 'data' and writes with socket.write, the same for every build). Per build and call
// kind the median time from the environment's arrival to the first write (µs), and with two builds or more each
// build's paired difference from the first one's (median over calls: negative is faster), which the machine's load
// moves far less than the medians. Swap the order of the checkouts in a second run: what is left is the builds'.
// Knobs: BENCH_COLD_CALLS (3000 per build, the first 500 not counted). Pin it: `taskset -c 1 npm run ...`.
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-ttfc-cold.ts
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CallTemplate } from './call-mix.js';
import { answerTo, envBlock } from './stand-in-asterisk.js';

const CHECKOUTS = (process.env.BENCH_COLD_CHECKOUTS ?? '.').split(',').map((p) => resolve(p.trim()));
const CALLS = Number(process.env.BENCH_COLD_CALLS ?? 3000);
const WARMUP = 500;
const SWEEP_BYTES = Number(process.env.BENCH_COLD_SWEEP_MB ?? 48) << 20;

interface Build {
  readonly name: string;
  /** Takes a connection (the server's own accept, as a listener would call it). */
  readonly accept: (socket: StandInSocket) => void;
}

/** One checkout's call path on bench:agi's head office, from its sources. */
async function load(checkout: string, index: number): Promise<Build & { readonly mix: readonly CallTemplate[] }> {
  const from = (path: string): Promise<Record<string, unknown>> => import(`${checkout}/${path}`) as Promise<Record<string, unknown>>;
  /* eslint-disable @typescript-eslint/no-explicit-any -- each checkout's own classes, loaded by path */
  const { AgiServer } = (await from('apps/agent/src/agi/agi-server.ts')) as any;
  const { ActiveCalls } = (await from('apps/agent/src/call/active-calls.ts')) as any;
  const { CallHandler } = (await from('apps/agent/src/call/call-handler.ts')) as any;
  const { createLogger } = (await from('apps/agent/src/logger.ts')) as any;
  const { AgentMetrics } = (await from('apps/agent/src/metrics/agent-metrics.ts')) as any;
  const { RoutingState } = (await from('apps/agent/src/state/routing-state.ts')) as any;
  const { TestController } = (await from('test/support/signed-snapshots.ts')) as any;
  const { AGENT_MIX, BENCH_SITE, benchFederation } = (await from('test/bench/agent-bench-setup.ts')) as any;
  const state = new RoutingState();
  state.apply(new TestController().snapshot(benchFederation(), BENCH_SITE, 1));
  const metrics = new AgentMetrics(false);
  const log = createLogger('error');
  const handler = new CallHandler(state, metrics, log, undefined, new ActiveCalls());
  const server = new AgiServer({ host: '127.0.0.1', port: 0, maxSessions: 1000, idleTimeoutMs: 120_000 }, handler, metrics, log);
  /* eslint-enable @typescript-eslint/no-explicit-any */
  const name = `${index}:${checkout.split('/').pop() ?? checkout}`;
  return { name, mix: AGENT_MIX as readonly CallTemplate[], accept: (socket) => (server as { accept(s: StandInSocket): void }).accept(socket) };
}

/** The socket's stand-in: notes its first write, answers each command from the next turn of the event loop. */
class StandInSocket extends EventEmitter {
  firstWriteAt = 0;
  private closed = false;

  constructor(private readonly onClosed: () => void) {
    super();
  }

  setNoDelay(): this {
    return this;
  }

  write(line: string): boolean {
    if (this.firstWriteAt === 0) this.firstWriteAt = performance.now();
    if (!this.closed) {
      const answer = answerTo(line);
      setImmediate(() => this.receive(answer));
    }
    return true;
  }

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

const sweep = new Uint8Array(SWEEP_BYTES);
let swept = 0;

/** Writes a byte in every cache line of `sweep`: what was in the caches before is evicted. */
function evictCaches(offset: number): void {
  for (let i = offset & 63; i < sweep.length; i += 64) swept += sweep[i] = (sweep[i] as number) + 1;
}

/** One call on `build`, cold: µs from the environment's bytes to the first write. */
function coldCall(build: Build, template: CallTemplate, n: number, offset: number): Promise<number> {
  const env = envBlock(template, n);
  evictCaches(offset);
  return new Promise((done) => {
    let took = 0;
    const socket = new StandInSocket(() => done(took));
    build.accept(socket);
    const start = performance.now();
    socket.emit('data', env);
    took = (socket.firstWriteAt - start) * 1000;
  });
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length / 2)] as number) * 10) / 10;
}

async function main(): Promise<void> {
  const builds: Build[] = [];
  let mix: readonly CallTemplate[] = [];
  for (const [i, checkout] of CHECKOUTS.entries()) {
    const build = await load(checkout, i);
    builds.push(build);
    mix = build.mix;
    process.stderr.write(`build ${build.name}: ${checkout}\n`);
  }
  const calls = mix.flatMap((t) => Array.from({ length: t.weight }, () => t));
  const took = new Map<string, number[]>();
  const diffs = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: string, value: number): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  };
  for (let n = 0; n < CALLS; n++) {
    const template = calls[n % calls.length] as CallTemplate;
    const times: number[] = [];
    for (let k = 0; k < builds.length; k++) {
      const b = (k + n) % builds.length;
      times[b] = await coldCall(builds[b] as Build, template, n, n * 7 + k);
    }
    if (n < WARMUP) continue;
    for (const [b, build] of builds.entries()) {
      for (const kind of [template.label, 'all']) {
        add(took, `${build.name} ${kind}`, times[b] as number);
        if (b > 0) add(diffs, `${build.name} - ${(builds[0] as Build).name} ${kind}`, (times[b] as number) - (times[0] as number));
      }
    }
  }
  const medians = Object.fromEntries([...took].map(([k, v]) => [k, median(v)]));
  const paired = Object.fromEntries([...diffs].map(([k, v]) => [k, median(v)]));
  process.stdout.write(`${JSON.stringify({ calls_per_build: CALLS - WARMUP, sweep_mb: SWEEP_BYTES >> 20, swept: swept & 1, median_us: medians, paired_diff_us: paired })}\n`);
  process.exit(0);
}

await main();
