// npm run bench:agi - measures FastAGI servers with the faithful Asterisk peer as load generator.
//
// Each server (the agent when it can run, plus the floor and ding-dong baselines) is spawned as its own process, so
// that RSS and CPU are its own, and all of them run for the whole bench. After a warm-up each (BENCH_WARMUP_SECONDS
// of open loop, then as long of closed loop), they take turns: BENCH_ROUNDS rounds, each giving every server BENCH_SECONDS/BENCH_ROUNDS of
//   1. open loop: calls started at BENCH_RATE/s, whatever completes; per call the time from TCP connect to the
//      first command line (TTFC), p50/p99 over all its turns;
//   2. closed loop: BENCH_CONCURRENCY sessions placing calls back to back: calls/s over all its turns;
// in an order rotated per round (see runBench). VmRSS sampled throughout (max), CPU time (utime+stime) per call
// over its own turns, commands per call.
// Prints a table, then ONE JSON line (agent figures unprefixed, null when the agent could not run).
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-bench.ts
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { placeCall, type CallRecord } from '../support/asterisk/fastagi-peer.js';
import { agentConfigFromEnv, agentServer, dingDongServer, floorServer, recordedSequences, transpile, type ServerFactory, type ServerUnderTest } from './bench-servers.js';
import { badReason, DEFAULT_MIX, mixPicker, type CallTemplate } from './call-mix.js';
import type { ClosedLoopReport, ClosedLoopWork } from './closed-loop-worker.js';
import { AGENT_MIX, prepareAgentBench } from './agent-bench-setup.js';

export interface BenchOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Turns each server takes, interleaved with the others' (BENCH_ROUNDS): `seconds` is split over them. */
  readonly rounds: number;
  readonly concurrency: number;
  /** Per-call bound (a call still open then is counted as parked). */
  readonly callTimeoutMs: number;
  readonly mix: readonly CallTemplate[];
  /** The mix by name, for the closed loop's worker threads (they build their own). */
  readonly mixName: 'agent' | 'default';
  /** Worker threads the closed loop's sessions are spread over (BENCH_LOADGEN_THREADS). */
  readonly loadgenThreads: number;
  /** Pin the load generator and the servers to different CPUs (BENCH_PIN, default on where possible). */
  readonly pin: boolean;
  readonly servers: readonly ServerFactory[];
  /** The server whose lines per dialled number floor and ding-dong replay (recorded before they start). */
  readonly sequenceSource: string;
}

export interface ServerResult {
  readonly name: string;
  readonly skipped: string | null;
  readonly ttfcP50Ms: number | null;
  readonly ttfcP99Ms: number | null;
  /** TTFC p99 per call kind of the mix (its template's label). */
  /** Every measured TTFC, sorted (for the tail percentiles in the log). */
  readonly ttfcTail: Float64Array;
  /** TTFC p99 and closed-loop calls/s of each round's turn, in round order (their spread shows the machine's noise). */
  readonly ttfcP99ByRoundMs: readonly (number | null)[];
  readonly ttfcP50ByRoundMs: readonly (number | null)[];
  /** Server CPU per call over each round's turns (open and closed loop), in round order. */
  readonly cpuMsPerCallByRound: readonly (number | null)[];
  /** Heap bytes allocated per call (KB) over each round's turns; null without the probe. */
  readonly allocKbPerCallByRound: readonly (number | null)[];
  readonly callsPerSByRound: readonly number[];
  readonly ttfcP99ByKindMs: Readonly<Record<string, number | null>>;
  readonly openLoopStarted: number;
  readonly openLoopCompleted: number;
  readonly openLoopAchievedRate: number | null;
  readonly callsPerS: number | null;
  readonly rssMb: number | null;
  readonly rssIdleMb: number | null;
  readonly cpuMsPerCall: number | null;
  /** Median over rounds of allocKbPerCallByRound. */
  readonly allocKbPerCall: number | null;
  readonly commandsPerCall: number | null;
  /** Calls that failed to connect, were parked, pipelined, or ended other than AGISTATUS=SUCCESS. */
  readonly badCalls: number;
  readonly badSamples: string[];
  /** CPU share (1 = one core) the load generator (this process) used during the closed loop. */
  readonly loadgenCpuCores: number | null;
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLK_TCK = 100;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A spawned server process, killed by PID when done (also on error or Ctrl-C). */
class ServerProcess {
  readonly child: ChildProcess;
  private readonly logTail: string[] = [];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exitedPromise: Promise<void>;

  constructor(
    readonly sut: ServerUnderTest,
    launch: Launch,
  ) {
    // Node servers get the allocation probe preloaded (it answers over the IPC channel); `taskset` execs the server
    // itself, so the PID is still the server's.
    const nodeArgs = sut.command === process.execPath && launch.allocProbe !== null ? ['--import', launch.allocProbe, ...sut.args] : [...sut.args];
    const [command, args] = launch.serverCpus !== null ? ['taskset', ['-c', launch.serverCpus, sut.command, ...nodeArgs]] : [sut.command, nodeArgs];
    this.child = spawn(command, args, {
      cwd: sut.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...sut.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.on('message', (m: unknown) => {
      const waiting = this.allocWaiters.shift();
      if (waiting) waiting(typeof m === 'object' && m !== null && 'allocatedBytes' in m && typeof m.allocatedBytes === 'number' ? m.allocatedBytes : null);
    });
    this.child.channel?.unref();
    // Always drain the pipes (a full pipe would stall the server); keep a tail for diagnostics.
    const keep = (chunk: Buffer): void => {
      this.logTail.push(chunk.toString('utf8'));
      if (this.logTail.length > 20) this.logTail.shift();
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exitedPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
    });
    LIVE.add(this);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.sut.name}: spawn failed`);
    return this.child.pid;
  }

  tail(): string {
    return this.logTail.join('').slice(-2000);
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + (this.sut.readyTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.sut.name} exited (${JSON.stringify(this.exited)}):\n${this.tail()}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: this.sut.agiHost, port: this.sut.agiPort });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`${this.sut.name} did not accept on ${this.sut.agiHost}:${this.sut.agiPort}:\n${this.tail()}`);
  }

  /** VmRSS in MB, or null once gone. */
  rssMb(): number | null {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : null;
    } catch {
      return null;
    }
  }

  private readonly allocWaiters: ((bytes: number | null) => void)[] = [];

  /** Bytes the server's heap allocated since it started (the preloaded alloc-probe), or null without the probe. */
  allocatedBytes(): Promise<number | null> {
    if (this.exited || !this.child.connected) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.allocWaiters.indexOf(done);
        if (i >= 0) this.allocWaiters.splice(i, 1);
        resolve(null);
      }, 2000);
      const done = (bytes: number | null): void => {
        clearTimeout(timer);
        resolve(bytes);
      };
      this.allocWaiters.push(done);
      this.child.send('alloc?');
    });
  }

  /** utime + stime in ms. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime is field 14 -> index 11, stime 15 -> 12.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  }

  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) {
      LIVE.delete(this);
      return;
    }
    process.kill(this.child.pid, 'SIGTERM');
    await Promise.race([this.exitedPromise, sleep(3000)]);
    if (!this.exited) {
      process.kill(this.child.pid, 'SIGKILL');
      await Promise.race([this.exitedPromise, sleep(2000)]);
    }
    LIVE.delete(this);
  }
}

const LIVE = new Set<ServerProcess>();

/** How servers are started: the allocation probe to preload, the CPUs to pin them to (null: not pinned). */
interface Launch {
  readonly allocProbe: string | null;
  readonly serverCpus: string | null;
  /** What the log and JSON say about pinning. */
  readonly pinning: string;
}

/**
 * Pins this process (the load generator, all its threads) to CPU 0 and the servers to the others, when the machine
 * has two or more and `taskset` is there (BENCH_PIN=off: not pinned). The load generator's kernel work then stops
 * competing with the server under test's for one core; the servers take turns, so they share theirs without overlap.
 */
function pinCpus(env: NodeJS.ProcessEnv): { serverCpus: string | null; pinning: string } {
  const cpus = availableParallelism();
  if (env.BENCH_PIN === 'off') return { serverCpus: null, pinning: 'not pinned (BENCH_PIN=off)' };
  if (cpus < 2) return { serverCpus: null, pinning: `not pinned (${cpus} CPU)` };
  if (spawnSync('taskset', ['-V']).status !== 0) return { serverCpus: null, pinning: 'not pinned (no taskset)' };
  const serverCpus = cpus === 2 ? '1' : `1-${cpus - 1}`;
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  return { serverCpus, pinning: `load generator on CPU 0, servers on CPU ${serverCpus} (taskset)` };
}

function killAllSync(): void {
  for (const p of LIVE) {
    if (!p.exited && p.child.pid !== undefined) {
      try {
        process.kill(p.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killAllSync);

function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

class CallStats {
  completed = 0;
  commands = 0;
  bad = 0;
  readonly badSamples: string[] = [];

  add(call: CallRecord): void {
    this.addReport({ inWindow: 1, commands: call.commands.length, bad: [badReason(call)].filter((why): why is string => why !== null) });
  }

  addReport(report: ClosedLoopReport): void {
    this.completed += report.inWindow;
    this.commands += report.commands;
    this.bad += report.bad.length;
    for (const why of report.bad) if (this.badSamples.length < 5) this.badSamples.push(why);
  }
}

/**
 * The address each call to one server comes from. Every call's connection ends in TIME_WAIT for 60 s, and a closed
 * loop places ~70,000 calls in 10 s: from one address the 28,000 ephemeral ports are all in TIME_WAIT within
 * seconds, after which every connect has to search for a reusable one - a load generator cost that grows during a
 * run and carries over into the next server's (the server measured second came out slowest, the lightest one
 * included). On loopback every 127.x.y.z is local, so each server gets addresses of its own (127.0.<n+1>.2-33),
 * rotated per call. Elsewhere the system chooses.
 */
function sourceAddresses(host: string, serverIndex: number): string[] {
  if (host !== '127.0.0.1') return [];
  return Array.from({ length: 32 }, (_, i) => `127.0.${serverIndex + 1}.${i + 2}`);
}

function rotate(pool: readonly string[]): () => string | undefined {
  let next = 0;
  return () => (pool.length === 0 ? undefined : pool[next++ % pool.length]);
}

/** One open-loop slice: the TTFC of each call that completed, overall and by call kind. */
interface OpenSlice {
  readonly ttfc: number[];
  readonly ttfcByKind: Map<string, number[]>;
  readonly started: number;
  readonly completed: number;
  readonly seconds: number;
  /** From the first call's start to the last's (ms): the rate the load generator achieved. */
  readonly startSpanMs: number;
}

/**
 * Open loop: calls started at `opts.rate`/s for `seconds`, whatever completes; every call is bounded by
 * callTimeoutMs. `stats` null: a warm-up slice, whose calls are placed and not counted.
 */
async function openLoop(sut: ServerUnderTest, opts: BenchOptions, seconds: number, stats: CallStats | null, source: () => string | undefined): Promise<OpenSlice> {
  const pick = mixPicker(opts.mix);
  const total = Math.round(opts.rate * seconds);
  const ttfc: number[] = [];
  const ttfcByKind = new Map<string, number[]>(opts.mix.map((t) => [t.label, []]));
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  let started = 0;
  let completed = 0;
  let lastStart = t0;
  while (started < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate) + 1);
    while (started < due) {
      const { label, options } = pick();
      const p = placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, localAddress: source(), ...options }).then((call) => {
        pending.delete(p);
        if (stats === null) return;
        stats.add(call);
        completed += 1;
        if (call.timeToFirstCommandMs !== null) {
          ttfc.push(call.timeToFirstCommandMs);
          ttfcByKind.get(label)?.push(call.timeToFirstCommandMs);
        }
      });
      pending.add(p);
      started += 1;
      lastStart = performance.now();
    }
    const wait = t0 + (started / opts.rate) * 1000 - performance.now();
    // A timer, never a spin: on a 2-core machine a load generator polling with setImmediate holds a core the server
    // under test and the kernel's loopback work need. Timers fire at 1 ms granularity, so a call may start up to
    // ~1 ms late (the count stays on schedule: `due` is from the clock); TTFC is timed from its own connect.
    if (wait > 0) await sleep(Math.min(wait, 20));
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await Promise.all([...pending]);
  return { ttfc, ttfcByKind, started: total, completed, seconds, startSpanMs: lastStart - t0 };
}

/**
 * A worker thread does not run the parent's `--import tsx`: it registers tsx itself, then loads the TypeScript
 * worker (whose imports resolve through the `@fedpbx/source` condition, as in this process).
 */
const CLOSED_LOOP_WORKER = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(new URL('./closed-loop-worker.ts', import.meta.url).href)});`,
  )}`,
);

/**
 * The closed loop's load generator: `threads` worker threads, started once for the whole run, each given a window
 * against one server at a time. The faithful peer costs more CPU per call than any server measured (most of it
 * kernel time in loopback connect and write): on one thread it is the bottleneck, and calls/s then measures how
 * well its event loop batches, not the server.
 */
class ClosedLoopPool {
  private constructor(private readonly workers: readonly Worker[]) {}

  static async start(threads: number, mix: BenchOptions['mixName']): Promise<ClosedLoopPool> {
    const workers = Array.from({ length: threads }, () => new Worker(CLOSED_LOOP_WORKER, { workerData: { mix }, execArgv: ['--conditions=@fedpbx/source'] }));
    const pool = new ClosedLoopPool(workers);
    // Loaded first (each registers tsx and imports the peer): a window starts when all of them can call.
    await Promise.all(workers.map((w) => pool.message<'ready'>(w)));
    return pool;
  }

  /** `concurrency` sessions placing calls back to back against `sut` for `seconds`; returns calls completed in the window. */
  async window(sut: ServerUnderTest, opts: BenchOptions, seconds: number, stats: CallStats, sources: readonly string[]): Promise<{ calls: number; seconds: number }> {
    const threads = this.workers.length;
    const t0 = performance.now();
    const endAt = performance.timeOrigin + t0 + seconds * 1000;
    const reports = await Promise.all(
      this.workers.map((w, i) => {
        const work: ClosedLoopWork = {
          host: sut.agiHost,
          port: sut.agiPort,
          sessions: Math.floor(opts.concurrency / threads) + (i < opts.concurrency % threads ? 1 : 0),
          callTimeoutMs: opts.callTimeoutMs,
          sources: sources.filter((_, s) => s % threads === i),
          endAt,
        };
        const report = this.message<ClosedLoopReport>(w);
        w.postMessage(work);
        return report;
      }),
    );
    for (const report of reports) stats.addReport(report);
    return { calls: reports.reduce((sum, r) => sum + r.inWindow, 0), seconds: Math.min(performance.now() - t0, seconds * 1000) / 1000 };
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private message<T>(worker: Worker): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (m: T): void => {
        cleanup();
        resolve(m);
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`closed-loop worker exited with ${code} before reporting`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }
}

/** One probe call per template: the lines the agent sends, for floor and ding-dong to replay. */
async function recordAgentSequences(sut: ServerUnderTest, opts: BenchOptions): Promise<void> {
  const sequences: Record<string, string[]> = {};
  for (const t of opts.mix) {
    const call = await placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, ...mixPicker([t])().options });
    sequences[t.extension] = call.commands.map((c) => c.raw);
  }
  const file = join(mkdtempSync(join(tmpdir(), 'agi-bench-sequences-')), 'sequences.json');
  writeFileSync(file, JSON.stringify(sequences));
  recordedSequences.file = file;
}

/** A server taking part in the run, and what was measured of it so far. */
class Contender {
  readonly stats = new CallStats();
  readonly open: OpenSlice[] = [];
  /** Its measured closed-loop turns, in round order. */
  readonly closed: { readonly calls: number; readonly seconds: number }[] = [];
  /** Server CPU (ms) over its own slices, and the calls it served in them (warm-up included). */
  cpuMs = 0;
  callsServed = 0;
  /** Per measured round: server CPU (ms), calls served, heap bytes allocated (null: unknown). */
  readonly rounds: { cpuMs: number; calls: number; allocBytes: number | null }[] = [];
  rssIdleMb: number | null = null;
  rssMaxMb = 0;
  loadgenCpuMs = 0;
  readonly source: () => string | undefined;

  constructor(
    readonly name: string,
    readonly proc: ServerProcess,
    readonly sources: readonly string[],
    readonly tmpDir: string,
  ) {
    this.source = rotate(sources);
  }

  get sut(): ServerUnderTest {
    return this.proc.sut;
  }

  sampleRss(): void {
    const r = this.proc.rssMb();
    if (r !== null && r > this.rssMaxMb) this.rssMaxMb = r;
  }

  /** One measured closed-loop turn: the server's calls/s, and the load generator's CPU spent driving it. */
  async closedTurn(pool: ClosedLoopPool, opts: BenchOptions, seconds: number, round: number): Promise<void> {
    const lg0 = process.cpuUsage();
    this.closed.push(await this.charge(() => pool.window(this.sut, opts, seconds, this.stats, this.sources), (w) => w.calls, round));
    const lg = process.cpuUsage(lg0);
    this.loadgenCpuMs += (lg.user + lg.system) / 1000;
  }

  /** Runs `slice`, charging the server's CPU (and heap allocation) over it to this contender, and to `round` if measured. */
  async charge<T>(slice: () => Promise<T>, calls: (result: T) => number, round: number | null): Promise<T> {
    const alloc0 = round === null ? null : await this.proc.allocatedBytes();
    const cpu0 = this.proc.cpuMs();
    const result = await slice();
    if (this.proc.exited) throw new Error(`${this.name} died during the run:\n${this.proc.tail()}`);
    const cpuMs = this.proc.cpuMs() - cpu0;
    const n = calls(result);
    this.cpuMs += cpuMs;
    this.callsServed += n;
    if (round !== null) {
      const alloc1 = await this.proc.allocatedBytes();
      const r = (this.rounds[round] ??= { cpuMs: 0, calls: 0, allocBytes: 0 });
      r.cpuMs += cpuMs;
      r.calls += n;
      r.allocBytes = alloc0 === null || alloc1 === null || r.allocBytes === null ? null : r.allocBytes + (alloc1 - alloc0);
    }
    return result;
  }

  result(): ServerResult {
    const ttfc = Float64Array.from(this.open.flatMap((s) => s.ttfc)).sort();
    const byKind = new Map<string, number[]>();
    for (const s of this.open) for (const [kind, ms] of s.ttfcByKind) byKind.set(kind, [...(byKind.get(kind) ?? []), ...ms]);
    const started = this.open.reduce((n, s) => n + s.started, 0);
    // N starts span N - 1 intervals.
    const intervals = this.open.reduce((n, s) => n + Math.max(0, s.started - 1), 0);
    const spanSeconds = this.open.reduce((n, s) => n + s.startSpanMs, 0) / 1000;
    const closedCalls = this.closed.reduce((n, w) => n + w.calls, 0);
    const closedSeconds = this.closed.reduce((n, w) => n + w.seconds, 0);
    return {
      name: this.name,
      skipped: null,
      ttfcP50Ms: percentile(ttfc, 0.5),
      ttfcP99Ms: percentile(ttfc, 0.99),
      ttfcTail: ttfc,
      ttfcP99ByRoundMs: this.open.map((slice) => percentile(Float64Array.from(slice.ttfc).sort(), 0.99)),
      ttfcP50ByRoundMs: this.open.map((slice) => percentile(Float64Array.from(slice.ttfc).sort(), 0.5)),
      cpuMsPerCallByRound: this.rounds.map((r) => (r.calls > 0 ? r.cpuMs / r.calls : null)),
      allocKbPerCallByRound: this.rounds.map((r) => (r.calls > 0 && r.allocBytes !== null ? r.allocBytes / 1024 / r.calls : null)),
      allocKbPerCall: median(this.rounds.map((r) => (r.calls > 0 && r.allocBytes !== null ? r.allocBytes / 1024 / r.calls : null))),
      callsPerSByRound: this.closed.map((w) => (w.seconds > 0 ? w.calls / w.seconds : 0)),
      ttfcP99ByKindMs: Object.fromEntries([...byKind].map(([kind, ms]) => [kind, round(percentile(Float64Array.from(ms).sort(), 0.99), 3)])),
      openLoopStarted: started,
      openLoopCompleted: this.open.reduce((n, s) => n + s.completed, 0),
      openLoopAchievedRate: spanSeconds > 0 ? intervals / spanSeconds : null,
      callsPerS: closedSeconds > 0 ? closedCalls / closedSeconds : null,
      rssMb: this.rssMaxMb,
      rssIdleMb: this.rssIdleMb,
      cpuMsPerCall: this.callsServed > 0 ? this.cpuMs / this.callsServed : null,
      commandsPerCall: this.stats.completed > 0 ? this.stats.commands / this.stats.completed : null,
      badCalls: this.stats.bad,
      badSamples: this.stats.badSamples,
      loadgenCpuCores: closedSeconds > 0 ? this.loadgenCpuMs / (closedSeconds * 1000) : null,
    };
  }
}

function skippedResult(name: string, why: string): ServerResult {
  return {
    name,
    skipped: why,
    ttfcP50Ms: null,
    ttfcP99Ms: null,
    ttfcTail: new Float64Array(0),
    ttfcP99ByRoundMs: [],
    ttfcP50ByRoundMs: [],
    cpuMsPerCallByRound: [],
    allocKbPerCallByRound: [],
    allocKbPerCall: null,
    callsPerSByRound: [],
    ttfcP99ByKindMs: {},
    openLoopStarted: 0,
    openLoopCompleted: 0,
    openLoopAchievedRate: null,
    callsPerS: null,
    rssMb: null,
    rssIdleMb: null,
    cpuMsPerCall: null,
    commandsPerCall: null,
    badCalls: 0,
    badSamples: [],
    loadgenCpuCores: null,
  };
}

/** The order servers take their turn in round `r`: rotated, so that none is always measured first or last. */
export function roundOrder<T>(items: readonly T[], r: number): T[] {
  const k = items.length === 0 ? 0 : r % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Every server runs for the whole bench, and the measurement is interleaved: BENCH_ROUNDS rounds, in each of which
 * every server takes a turn of seconds/rounds (open loop, then closed loop), in rotated order. A machine's drift
 * (another tenant, frequency, the kernel's TIME_WAIT work) then falls on all of them alike instead of on whichever
 * server happened to be measured while it lasted; on the shared 2-core machines this bench runs on, measuring one
 * server after the other moved the agent/floor TTFC ratio by 2x between runs of the same code.
 */
export async function runBench(opts: BenchOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<ServerResult[]> {
  const results = new Map<string, ServerResult>();
  const contenders: Contender[] = [];
  let sampler: NodeJS.Timeout | null = null;
  // Before the load generator's threads start: they inherit the pinning.
  const pinned = opts.pin ? pinCpus(process.env) : { serverCpus: null, pinning: 'not pinned' };
  const probeDir = mkdtempSync(join(tmpdir(), 'agi-bench-probe-'));
  const launch: Launch = { allocProbe: transpile(REPO_ROOT, probeDir, 'alloc-probe.ts'), ...pinned };
  log(`cpus: ${launch.pinning}; heap allocation per call from V8's per-GC heap statistics (alloc-probe.ts)`);
  lastPinning = launch.pinning;
  const pool = await ClosedLoopPool.start(Math.max(1, Math.min(opts.loadgenThreads, opts.concurrency)), opts.mixName);
  try {
    // In the given order, the agent first: floor and ding-dong replay the lines it sends.
    for (const [index, factory] of opts.servers.entries()) {
      const why = factory.unavailable(REPO_ROOT);
      if (why !== null) {
        log(`${factory.name}: skipped (${why})`);
        results.set(factory.name, skippedResult(factory.name, why));
        continue;
      }
      const tmpDir = mkdtempSync(join(tmpdir(), `agi-bench-${factory.name}-`));
      const sut = factory.create({ repoRoot: REPO_ROOT, tmpDir, agiPort: await freePort(), metricsPort: await freePort() });
      const proc = new ServerProcess(sut, launch);
      const contender = new Contender(factory.name, proc, sourceAddresses(sut.agiHost, index), tmpDir);
      contenders.push(contender);
      await proc.waitReady();
      if (factory.name === opts.sequenceSource) await recordAgentSequences(sut, opts);
    }
    await sleep(300);
    for (const c of contenders) c.rssIdleMb = c.proc.rssMb();
    sampler = setInterval(() => contenders.forEach((c) => c.sampleRss()), 100);

    // Warm-up in both regimes: a server serving 200 calls at once runs other code paths hot (and V8 sizes its young
    // generation to that load) than one serving calls one at a time; without the closed-loop part the first round's
    // turn of the agent, which has the most code to optimise, came out ~40% slower than its others.
    for (const c of contenders) {
      log(`${c.name}: warm-up, open loop ${opts.rate}/s then closed loop ${opts.concurrency} sessions, ${opts.warmupSeconds} s each`);
      await c.charge(() => openLoop(c.sut, opts, opts.warmupSeconds, null, c.source), (s) => s.started, null);
      await c.charge(() => pool.window(c.sut, opts, opts.warmupSeconds, new CallStats(), c.sources), (w) => w.calls, null);
    }
    const turn = opts.seconds / opts.rounds;
    for (let r = 0; r < opts.rounds; r++) {
      const order = roundOrder(contenders, r);
      log(`round ${r + 1}/${opts.rounds}: ${order.map((c) => c.name).join(', ')}; open loop ${opts.rate}/s, then closed loop ${opts.concurrency} sessions, ${turn} s each`);
      for (const c of order) c.open.push(await c.charge(() => openLoop(c.sut, opts, turn, c.stats, c.source), (s) => s.started, r));
      for (const c of order) await c.closedTurn(pool, opts, turn, r);
    }
    for (const c of contenders) {
      const result = c.result();
      results.set(c.name, result);
      const t = result.ttfcTail;
      log(`${c.name}: ttfc (ms) ${[0.5, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999].map((q) => `p${q * 100} ${round(percentile(t, q), 3)}`).join(' ')} max ${round(percentile(t, 1), 3)}; open loop achieved ${round(result.openLoopAchievedRate, 1)} calls/s`);
      log(`${c.name}: ttfc p99 by call kind (ms): ${Object.entries(result.ttfcP99ByKindMs).map(([kind, ms]) => `${kind} ${ms}`).join(', ')}`);
      log(
        `${c.name}: per round: ttfc p50 (ms) ${result.ttfcP50ByRoundMs.map((ms) => round(ms, 3)).join(' ')}; ttfc p99 (ms) ${result.ttfcP99ByRoundMs.map((ms) => round(ms, 3)).join(' ')}; calls/s ${result.callsPerSByRound.map((n) => Math.round(n)).join(' ')}; cpu ms/call ${result.cpuMsPerCallByRound.map((ms) => round(ms, 3)).join(' ')}; alloc KB/call ${result.allocKbPerCallByRound.map((kb) => round(kb, 1)).join(' ')}`,
      );
    }
  } finally {
    if (sampler) clearInterval(sampler);
    await pool.stop();
    for (const c of contenders) {
      await c.proc.stop();
      rmSync(c.tmpDir, { recursive: true, force: true });
    }
    rmSync(probeDir, { recursive: true, force: true });
  }
  return opts.servers.map((f) => results.get(f.name) as ServerResult);
}

export const round = (n: number | null | undefined, digits = 2): number | null => (n == null ? null : Number(n.toFixed(digits)));

/** What the last runBench said about CPU pinning (for the JSON line). */
let lastPinning = 'not pinned';

export function median(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? (xs[mid] as number) : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
}

/** [min, max] of the known values, or null. */
export function spread(values: readonly (number | null)[]): [number, number] | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : [Math.min(...xs), Math.max(...xs)];
}

/** a[r] / b[r] per round. */
function ratioByRound(a: readonly (number | null)[] | undefined, b: readonly (number | null)[] | undefined): (number | null)[] | null {
  return a && b ? a.map((x, r) => ratio(x, b[r])) : null;
}

export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : round(a / b, 2));

export function formatTable(results: readonly ServerResult[]): string {
  const head = ['server', 'ttfc p50 ms', 'ttfc p99 ms', 'open done/started', 'calls/s', 'loadgen cores', 'rss max MB', 'rss idle MB', 'cpu ms/call', 'alloc KB/call', 'cmds/call', 'bad calls'];
  const rows = results.map((r) =>
    r.skipped !== null
      ? [r.name, `skipped: ${r.skipped}`]
      : [
          r.name,
          String(round(r.ttfcP50Ms, 3)),
          String(round(r.ttfcP99Ms, 3)),
          `${r.openLoopCompleted}/${r.openLoopStarted}`,
          String(round(r.callsPerS, 0)),
          String(round(r.loadgenCpuCores, 2)),
          String(round(r.rssMb, 1)),
          String(round(r.rssIdleMb, 1)),
          String(round(r.cpuMsPerCall, 3)),
          String(round(r.allocKbPerCall, 1)),
          String(round(r.commandsPerCall, 2)),
          r.badCalls === 0 ? '0' : `${r.badCalls} (${r.badSamples.join(', ')})`,
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.length === head.length ? (r[i] ?? '').length : 0))));
  const line = (cells: string[]): string => (cells.length === head.length ? cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ') : cells.join('  '));
  return [line(head), ...rows.map(line)].join('\n');
}

export function summaryJson(results: readonly ServerResult[], opts: BenchOptions): Record<string, unknown> {
  const by = (name: string): ServerResult | undefined => results.find((r) => r.name === name && r.skipped === null);
  const agent = by('agent');
  const floor = by('floor');
  const dd = by('dingdong');
  const cpuVsFloor = ratioByRound(agent?.cpuMsPerCallByRound, floor?.cpuMsPerCallByRound);
  const cpuVsDingdong = ratioByRound(agent?.cpuMsPerCallByRound, dd?.cpuMsPerCallByRound);
  const ttfcP50VsFloor = ratioByRound(agent?.ttfcP50ByRoundMs, floor?.ttfcP50ByRoundMs);
  return {
    // Ratios within each round (its turns ran back to back), then their median over rounds and spread [min, max]:
    // a machine's drift moves all servers of a round alike, so these hold where absolute figures do not.
    cpu_vs_floor: round(median(cpuVsFloor ?? []), 2),
    cpu_vs_dingdong: round(median(cpuVsDingdong ?? []), 2),
    ttfc_p50_vs_floor: round(median(ttfcP50VsFloor ?? []), 2),
    alloc_kb_per_call: round(agent?.allocKbPerCall ?? null, 1),
    cpu_vs_floor_by_round: cpuVsFloor,
    cpu_vs_dingdong_by_round: cpuVsDingdong,
    ttfc_p50_vs_floor_by_round: ttfcP50VsFloor,
    alloc_kb_per_call_by_round: agent?.allocKbPerCallByRound.map((kb) => round(kb, 1)) ?? null,
    cpu_vs_floor_spread: spread(cpuVsFloor ?? []),
    cpu_vs_dingdong_spread: spread(cpuVsDingdong ?? []),
    ttfc_p50_vs_floor_spread: spread(ttfcP50VsFloor ?? []),
    alloc_kb_per_call_spread: spread((agent?.allocKbPerCallByRound ?? []).map((kb) => round(kb, 1))),
    floor_alloc_kb_per_call: round(floor?.allocKbPerCall ?? null, 1),
    dingdong_alloc_kb_per_call: round(dd?.allocKbPerCall ?? null, 1),
    cpu_pinning: lastPinning,
    ttfc_p50_ms: round(agent?.ttfcP50Ms ?? null, 3),
    ttfc_p99_ms: round(agent?.ttfcP99Ms ?? null, 3),
    floor_ttfc_p99_ms: round(floor?.ttfcP99Ms ?? null, 3),
    calls_per_s: round(agent?.callsPerS ?? null, 0),
    dingdong_calls_per_s: round(dd?.callsPerS ?? null, 0),
    floor_calls_per_s: round(floor?.callsPerS ?? null, 0),
    rss_mb: round(agent?.rssMb ?? null, 1),
    commands_per_call: round(agent?.commandsPerCall ?? null, 2),
    cpu_ms_per_call: round(agent?.cpuMsPerCall ?? null, 3),
    bad_calls: agent?.badCalls ?? null,
    ttfc_p99_by_kind_ms: agent?.ttfcP99ByKindMs ?? null,
    // The two targets as ratios: agent TTFC p99 / floor's (<= 1.5), agent calls/s / ding-dong's (>= 1.0).
    ttfc_p99_vs_floor: ratio(agent?.ttfcP99Ms, floor?.ttfcP99Ms),
    calls_vs_dingdong: ratio(agent?.callsPerS, dd?.callsPerS),
    // The same ratios round by round (each round's turns ran back to back): how far one run's noise moves them.
    ttfc_p99_vs_floor_by_round: agent && floor ? agent.ttfcP99ByRoundMs.map((ms, r) => ratio(ms, floor.ttfcP99ByRoundMs[r])) : null,
    calls_vs_dingdong_by_round: agent && dd ? agent.callsPerSByRound.map((n, r) => ratio(n, dd.callsPerSByRound[r])) : null,
    floor_ttfc_p50_ms: round(floor?.ttfcP50Ms ?? null, 3),
    floor_rss_mb: round(floor?.rssMb ?? null, 1),
    floor_cpu_ms_per_call: round(floor?.cpuMsPerCall ?? null, 3),
    floor_bad_calls: floor?.badCalls ?? null,
    dingdong_ttfc_p50_ms: round(dd?.ttfcP50Ms ?? null, 3),
    dingdong_ttfc_p99_ms: round(dd?.ttfcP99Ms ?? null, 3),
    dingdong_rss_mb: round(dd?.rssMb ?? null, 1),
    dingdong_cpu_ms_per_call: round(dd?.cpuMsPerCall ?? null, 3),
    dingdong_bad_calls: dd?.badCalls ?? null,
    loadgen_cpu_cores: round(agent?.loadgenCpuCores ?? null, 2),
    floor_loadgen_cpu_cores: round(floor?.loadgenCpuCores ?? null, 2),
    dingdong_loadgen_cpu_cores: round(dd?.loadgenCpuCores ?? null, 2),
    agent_skipped: results.find((r) => r.name === 'agent')?.skipped ?? null,
    rate: opts.rate,
    seconds: opts.seconds,
    rounds: opts.rounds,
    concurrency: opts.concurrency,
  };
}

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const names = (env.BENCH_SERVERS ?? 'agent,floor,dingdong').split(',').map((s) => s.trim()).filter(Boolean);
  const all: Record<string, () => ServerFactory> = {
    // Without an explicit snapshot, measure the agent on the 100,000-extension head office (agent-bench-setup.ts).
    agent: () => agentServer(env.BENCH_AGENT_SNAPSHOT === undefined ? prepareAgentBench(mkdtempSync(join(tmpdir(), 'agi-bench-hq-'))) : agentConfigFromEnv(env)),
    floor: () => floorServer,
    dingdong: () => dingDongServer,
  };
  const servers = names.map((n) => {
    const f = all[n];
    if (!f) throw new Error(`BENCH_SERVERS: unknown server ${n} (known: ${Object.keys(all).join(', ')})`);
    return f();
  });
  return {
    rate: envNumber('BENCH_RATE', 500),
    seconds: envNumber('BENCH_SECONDS', 20),
    warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
    rounds: Math.round(envNumber('BENCH_ROUNDS', 5)),
    concurrency: envNumber('BENCH_CONCURRENCY', 200),
    callTimeoutMs: envNumber('BENCH_CALL_TIMEOUT_MS', 10_000),
    mix: env.BENCH_MIX === 'default' ? DEFAULT_MIX : AGENT_MIX,
    mixName: env.BENCH_MIX === 'default' ? 'default' : 'agent',
    loadgenThreads: envNumber('BENCH_LOADGEN_THREADS', 2),
    pin: env.BENCH_PIN !== 'off',
    servers,
    sequenceSource: 'agent',
  };
}

async function main(): Promise<void> {
  const opts = optionsFromEnv();
  const onSignal = (): void => {
    killAllSync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results = await runBench(opts);
  process.stdout.write(`${formatTable(results)}\n`);
  process.stdout.write(`${JSON.stringify(summaryJson(results, opts))}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`agi-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAllSync();
    process.exitCode = 1;
  });
}
