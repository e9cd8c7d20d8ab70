// npm run bench:agi - measures FastAGI servers with the faithful Asterisk peer as load generator.
//
// For each server (the agent when it can run, plus the floor and ding-dong baselines), spawned as its own
// process so that RSS and CPU are its own:
//   1. open loop: calls started at BENCH_RATE/s for BENCH_WARMUP_SECONDS + BENCH_SECONDS, whatever
//      completes; per call the time from TCP connect to the first command line (TTFC), p50/p99 over the
//      measured window;
//   2. closed loop: BENCH_CONCURRENCY sessions placing calls back to back for BENCH_SECONDS: calls/s;
//   3. VmRSS sampled during both (max) and CPU time (utime+stime) per call; commands per call.
// Prints a table, then ONE JSON line (agent figures unprefixed, null when the agent could not run).
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-bench.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { placeCall, type CallRecord } from '../support/asterisk/fastagi-peer.js';
import { agentConfigFromEnv, agentServer, dingDongServer, floorServer, recordedSequences, type ServerFactory, type ServerUnderTest } from './bench-servers.js';
import { badReason, DEFAULT_MIX, mixPicker, type CallTemplate } from './call-mix.js';
import type { ClosedLoopReport, ClosedLoopWork } from './closed-loop-worker.js';
import { AGENT_MIX, prepareAgentBench } from './agent-bench-setup.js';

export interface BenchOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly concurrency: number;
  /** Per-call bound (a call still open then is counted as parked). */
  readonly callTimeoutMs: number;
  readonly mix: readonly CallTemplate[];
  /** The mix by name, for the closed loop's worker threads (they build their own). */
  readonly mixName: 'agent' | 'default';
  /** Worker threads the closed loop's sessions are spread over (BENCH_LOADGEN_THREADS). */
  readonly loadgenThreads: number;
  readonly servers: readonly ServerFactory[];
}

export interface ServerResult {
  readonly name: string;
  readonly skipped: string | null;
  readonly ttfcP50Ms: number | null;
  readonly ttfcP99Ms: number | null;
  /** TTFC p99 per call kind of the mix (its template's label). */
  readonly ttfcP99ByKindMs: Readonly<Record<string, number | null>>;
  readonly openLoopStarted: number;
  readonly openLoopCompleted: number;
  readonly openLoopAchievedRate: number | null;
  readonly callsPerS: number | null;
  readonly rssMb: number | null;
  readonly rssIdleMb: number | null;
  readonly cpuMsPerCall: number | null;
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

  constructor(readonly sut: ServerUnderTest) {
    this.child = spawn(sut.command, [...sut.args], {
      cwd: sut.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...sut.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

async function openLoop(
  sut: ServerUnderTest,
  opts: BenchOptions,
  stats: CallStats,
  source: () => string | undefined,
): Promise<{ ttfc: Float64Array; ttfcByKind: Map<string, number[]>; started: number; measuredCompleted: number; achievedRate: number }> {
  const pick = mixPicker(opts.mix);
  const ttfcByKind = new Map<string, number[]>(opts.mix.map((t) => [t.label, []]));
  const warmCalls = Math.round(opts.rate * opts.warmupSeconds);
  const total = warmCalls + Math.round(opts.rate * opts.seconds);
  const ttfc = new Float64Array(total);
  let ttfcN = 0;
  let measuredCompleted = 0;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  let started = 0;
  let lastStart = t0;
  while (started < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate) + 1);
    while (started < due) {
      const measured = started >= warmCalls;
      const { label, options } = pick();
      const p = placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, localAddress: source(), ...options }).then((call) => {
        if (measured) {
          stats.add(call);
          measuredCompleted += 1;
          if (call.timeToFirstCommandMs !== null) {
            ttfc[ttfcN++] = call.timeToFirstCommandMs;
            ttfcByKind.get(label)?.push(call.timeToFirstCommandMs);
          }
        }
        pending.delete(p);
      });
      pending.add(p);
      started += 1;
      lastStart = performance.now();
    }
    const nextAt = t0 + (started / opts.rate) * 1000;
    const wait = nextAt - performance.now();
    // A timer, never a spin: on a 2-core machine a load generator polling with setImmediate holds a core the server
    // under test and the kernel's loopback work need. Timers fire at 1 ms granularity, so a call may start up to
    // ~1 ms late (the count stays on schedule: `due` is from the clock); TTFC is timed from its own connect.
    if (wait > 0) await sleep(Math.min(wait, 20));
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const achievedRate = (total - warmCalls) / ((lastStart - t0) / 1000 - opts.warmupSeconds || 1);
  // Whatever completes: every call is bounded by callTimeoutMs.
  await Promise.all([...pending]);
  const sorted = ttfc.slice(0, ttfcN).sort();
  return { ttfc: sorted, ttfcByKind, started: total - warmCalls, measuredCompleted, achievedRate };
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
 * The closed loop: `concurrency` sessions placing calls back to back for `seconds`, spread over
 * `loadgenThreads` worker threads. The faithful peer costs more CPU per call than any server measured (most of
 * it kernel time in loopback connect and write): on one thread it is the bottleneck, and calls/s then measures
 * how well its event loop batches, not the server. Returns calls/s in the window.
 */
async function closedLoop(sut: ServerUnderTest, opts: BenchOptions, stats: CallStats, sources: readonly string[]): Promise<number> {
  const threads = Math.max(1, Math.min(opts.loadgenThreads, opts.concurrency));
  const workers = Array.from({ length: threads }, (_, w) => {
    const work: ClosedLoopWork = {
      host: sut.agiHost,
      port: sut.agiPort,
      sessions: Math.floor(opts.concurrency / threads) + (w < opts.concurrency % threads ? 1 : 0),
      callTimeoutMs: opts.callTimeoutMs,
      mix: opts.mixName,
      sources: sources.filter((_, i) => i % threads === w),
    };
    return new Worker(CLOSED_LOOP_WORKER, { workerData: work, execArgv: ['--conditions=@fedpbx/source'] });
  });
  const failed = (worker: Worker): Promise<never> =>
    new Promise((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`closed-loop worker exited with ${code} before reporting`)));
    });
  const message = <T>(worker: Worker): Promise<T> => Promise.race([new Promise<T>((resolve) => worker.once('message', resolve)), failed(worker)]);
  // Loaded first (each registers tsx and imports the peer): the window starts when all of them can call.
  await Promise.all(workers.map((w) => message<'ready'>(w)));
  const t0 = performance.now();
  const reportsDone = Promise.all(workers.map((w) => message<ClosedLoopReport>(w)));
  for (const w of workers) w.postMessage(performance.timeOrigin + t0 + opts.seconds * 1000);
  const reports = await reportsDone;
  for (const report of reports) stats.addReport(report);
  const elapsed = Math.min(performance.now() - t0, opts.seconds * 1000);
  return reports.reduce((sum, r) => sum + r.inWindow, 0) / (elapsed / 1000);
}

/** One probe call per template: the lines the agent sends, for floor and ding-dong to replay. */
async function recordAgentSequences(sut: ServerUnderTest, opts: BenchOptions): Promise<void> {
  const sequences: Record<string, string[]> = {};
  for (const t of opts.mix) {
    const call = await placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, ...mixPicker([t])().options });
    sequences[t.extension] = call.commands.map((c) => c.raw);
  }
  // Its own directory: the agent's is removed when the agent's run ends, before floor and ding-dong start.
  const file = join(mkdtempSync(join(tmpdir(), 'agi-bench-sequences-')), 'sequences.json');
  writeFileSync(file, JSON.stringify(sequences));
  recordedSequences.file = file;
}

async function benchOne(factory: ServerFactory, index: number, opts: BenchOptions, log: (s: string) => void): Promise<ServerResult> {
  const empty = (skipped: string): ServerResult => ({
    name: factory.name,
    skipped,
    ttfcP50Ms: null,
    ttfcP99Ms: null,
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
  });
  const why = factory.unavailable(REPO_ROOT);
  if (why !== null) {
    log(`${factory.name}: skipped (${why})`);
    return empty(why);
  }
  const tmpDir = mkdtempSync(join(tmpdir(), `agi-bench-${factory.name}-`));
  let proc: ServerProcess | null = null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    const sut = factory.create({ repoRoot: REPO_ROOT, tmpDir, agiPort: await freePort(), metricsPort: await freePort() });
    proc = new ServerProcess(sut);
    await proc.waitReady();
    if (factory.name === 'agent') await recordAgentSequences(sut, opts);
    const p = proc;
    await sleep(300);
    const rssIdleMb = p.rssMb();
    let rssMax = rssIdleMb ?? 0;
    sampler = setInterval(() => {
      const r = p.rssMb();
      if (r !== null && r > rssMax) rssMax = r;
    }, 100);
    const stats = new CallStats();
    const cpu0 = p.cpuMs();
    log(`${factory.name}: open loop ${opts.rate}/s for ${opts.warmupSeconds}+${opts.seconds} s`);
    const sources = sourceAddresses(sut.agiHost, index);
    const open = await openLoop(sut, opts, stats, rotate(sources));
    log(`${factory.name}: ttfc (ms) ${[0.5, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999].map((q) => `p${q * 100} ${round(percentile(open.ttfc, q), 3)}`).join(' ')} max ${round(percentile(open.ttfc, 1), 3)}`);
    log(`${factory.name}: ttfc p99 by call kind (ms): ${[...open.ttfcByKind].map(([kind, ms]) => `${kind} ${round(percentile(Float64Array.from(ms).sort(), 0.99), 3)}`).join(', ')}`);
    log(`${factory.name}: closed loop, ${opts.concurrency} sessions for ${opts.seconds} s`);
    const lg0 = process.cpuUsage();
    const lgT0 = performance.now();
    const callsPerS = await closedLoop(sut, opts, stats, sources);
    const lg = process.cpuUsage(lg0);
    const loadgenCpuCores = (lg.user + lg.system) / 1000 / (performance.now() - lgT0);
    const cpu1 = p.cpuMs();
    if (p.exited) throw new Error(`${factory.name} died during the run:\n${p.tail()}`);
    return {
      name: factory.name,
      skipped: null,
      ttfcP50Ms: percentile(open.ttfc, 0.5),
      ttfcP99Ms: percentile(open.ttfc, 0.99),
      ttfcP99ByKindMs: Object.fromEntries([...open.ttfcByKind].map(([kind, ms]) => [kind, round(percentile(Float64Array.from(ms).sort(), 0.99), 3)])),
      openLoopStarted: open.started,
      openLoopCompleted: open.measuredCompleted,
      openLoopAchievedRate: open.achievedRate,
      callsPerS,
      rssMb: rssMax,
      rssIdleMb,
      // CPU over both loops, warm-up included, divided by every call the server saw.
      cpuMsPerCall: (cpu1 - cpu0) / (stats.completed + Math.round(opts.rate * opts.warmupSeconds)),
      commandsPerCall: stats.completed > 0 ? stats.commands / stats.completed : null,
      badCalls: stats.bad,
      badSamples: stats.badSamples,
      loadgenCpuCores,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await proc?.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

export async function runBench(opts: BenchOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<ServerResult[]> {
  const results: ServerResult[] = [];
  for (const [index, f] of opts.servers.entries()) results.push(await benchOne(f, index, opts, log));
  return results;
}

const round = (n: number | null, digits = 2): number | null => (n === null ? null : Number(n.toFixed(digits)));

export function formatTable(results: readonly ServerResult[]): string {
  const head = ['server', 'ttfc p50 ms', 'ttfc p99 ms', 'open done/started', 'calls/s', 'loadgen cores', 'rss max MB', 'rss idle MB', 'cpu ms/call', 'cmds/call', 'bad calls'];
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
  return {
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
    concurrency: opts.concurrency,
  };
}

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  // Without an explicit snapshot, measure the agent on the 100,000-extension head office (agent-bench-setup.ts).
  const agentConfig = env.BENCH_AGENT_SNAPSHOT === undefined ? prepareAgentBench(mkdtempSync(join(tmpdir(), 'agi-bench-hq-'))) : agentConfigFromEnv(env);
  const all: Record<string, ServerFactory> = {
    agent: agentServer(agentConfig),
    floor: floorServer,
    dingdong: dingDongServer,
  };
  const names = (env.BENCH_SERVERS ?? 'agent,floor,dingdong').split(',').map((s) => s.trim()).filter(Boolean);
  const servers = names.map((n) => {
    const f = all[n];
    if (!f) throw new Error(`BENCH_SERVERS: unknown server ${n} (known: ${Object.keys(all).join(', ')})`);
    return f;
  });
  return {
    rate: envNumber('BENCH_RATE', 500),
    seconds: envNumber('BENCH_SECONDS', 10),
    warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2),
    concurrency: envNumber('BENCH_CONCURRENCY', 200),
    callTimeoutMs: envNumber('BENCH_CALL_TIMEOUT_MS', 10_000),
    mix: env.BENCH_MIX === 'default' ? DEFAULT_MIX : AGENT_MIX,
    mixName: env.BENCH_MIX === 'default' ? 'default' : 'agent',
    loadgenThreads: envNumber('BENCH_LOADGEN_THREADS', 2),
    servers,
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
