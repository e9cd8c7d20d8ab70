// npm run bench:agi - measures FastAGI servers with the faithful Asterisk peer as load generator.
//
// Every server (the agent when it can run, plus the floor and ding-dong baselines) is spawned as its own process,
// so that RSS and CPU are its own, and all of them stay up for the whole run:
//   1. open loop: calls started at BENCH_RATE/s, whatever completes; per call the time from TCP connect to the
//      first command line (TTFC), p50/p99 over the measured calls. The BENCH_SECONDS of measurement are split into
//      BENCH_ROUNDS rounds that take turns between the servers (the first round of each after BENCH_WARMUP_SECONDS
//      of warm-up): on a shared machine a burst of outside load then falls on every server alike instead of on
//      whichever one happened to be measured at that moment (the same for the closed loop);
//   2. closed loop: BENCH_CONCURRENCY sessions placing calls back to back for BENCH_SECONDS (in rounds too): calls/s;
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
import { placeCall, type CallRecord } from '../support/asterisk/fastagi-peer.js';
import { agentConfigFromEnv, agentServer, dingDongServer, floorServer, recordedSequences, type ServerFactory, type ServerUnderTest } from './bench-servers.js';
import { DEFAULT_MIX, mixPicker, type CallTemplate } from './call-mix.js';
import { AGENT_MIX, prepareAgentBench } from './agent-bench-setup.js';

export interface BenchOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Both loops' measured seconds are split into this many rounds, taking turns between the servers. */
  readonly rounds: number;
  readonly concurrency: number;
  /** Per-call bound (a call still open then is counted as parked). */
  readonly callTimeoutMs: number;
  readonly mix: readonly CallTemplate[];
  readonly servers: readonly ServerFactory[];
}

export interface ServerResult {
  readonly name: string;
  readonly skipped: string | null;
  readonly ttfcP50Ms: number | null;
  readonly ttfcP99Ms: number | null;
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

/** A flow that ends hangs the channel up itself (AGI HANGUP): AGISTATUS=HANGUP is then the expected end. */
function serverHungUp(call: CallRecord): boolean {
  return call.commands.some((c) => c.argv[0]?.toUpperCase() === 'HANGUP');
}

class CallStats {
  completed = 0;
  commands = 0;
  bad = 0;
  readonly badSamples: string[] = [];

  add(call: CallRecord): void {
    this.completed += 1;
    this.commands += call.commands.length;
    const why =
      call.connectError !== null
        ? `connect ${call.connectError}`
        : call.parked
          ? 'parked'
          : call.pipelined
            ? 'pipelined'
            : call.agiStatus !== 'SUCCESS' && !(call.agiStatus === 'HANGUP' && serverHungUp(call))
              ? `AGISTATUS=${call.agiStatus}`
              : null;
    if (why !== null) {
      this.bad += 1;
      if (this.badSamples.length < 5) this.badSamples.push(why);
    }
  }
}

/** One open-loop stretch: `warmupSeconds` unmeasured, then `seconds` measured; TTFC samples unsorted. */
async function openLoop(
  sut: ServerUnderTest,
  opts: BenchOptions,
  stats: CallStats,
  warmupSeconds: number,
  seconds: number,
): Promise<{ ttfc: Float64Array; started: number; measuredCompleted: number; measuredSeconds: number }> {
  const pick = mixPicker(opts.mix);
  const warmCalls = Math.round(opts.rate * warmupSeconds);
  const total = warmCalls + Math.round(opts.rate * seconds);
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
      const p = placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, ...pick() }).then((call) => {
        if (measured) {
          stats.add(call);
          measuredCompleted += 1;
          if (call.timeToFirstCommandMs !== null) ttfc[ttfcN++] = call.timeToFirstCommandMs;
        }
        pending.delete(p);
      });
      pending.add(p);
      started += 1;
      lastStart = performance.now();
    }
    const nextAt = t0 + (started / opts.rate) * 1000;
    const wait = nextAt - performance.now();
    if (wait > 1) await sleep(Math.min(wait, 20));
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const measuredSeconds = (lastStart - t0) / 1000 - warmupSeconds;
  // Whatever completes: every call is bounded by callTimeoutMs.
  await Promise.all([...pending]);
  return { ttfc: ttfc.slice(0, ttfcN), started: total - warmCalls, measuredCompleted, measuredSeconds };
}

/** One closed-loop stretch of `seconds`: the calls completed in it and its length. */
async function closedLoop(sut: ServerUnderTest, opts: BenchOptions, stats: CallStats, seconds: number): Promise<{ calls: number; seconds: number }> {
  const pick = mixPicker(opts.mix);
  const end = performance.now() + seconds * 1000;
  let inWindow = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const call = await placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, ...pick() });
      if (performance.now() <= end) {
        inWindow += 1;
        stats.add(call);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, () => worker()));
  const elapsed = Math.min(performance.now(), end) - t0;
  return { calls: inWindow, seconds: elapsed / 1000 };
}

/** One probe call per template: the lines the agent sends, for floor and ding-dong to replay. */
async function recordAgentSequences(sut: ServerUnderTest, opts: BenchOptions): Promise<void> {
  const sequences: Record<string, string[]> = {};
  for (const t of opts.mix) {
    const call = await placeCall({ host: sut.agiHost, port: sut.agiPort, timeoutMs: opts.callTimeoutMs, ...mixPicker([t])() });
    sequences[t.extension] = call.commands.map((c) => c.raw);
  }
  // Its own directory: the agent's is removed when the agent's run ends, before floor and ding-dong start.
  const file = join(mkdtempSync(join(tmpdir(), 'agi-bench-sequences-')), 'sequences.json');
  writeFileSync(file, JSON.stringify(sequences));
  recordedSequences.file = file;
}

function skippedResult(name: string, skipped: string): ServerResult {
  return {
    name,
    skipped,
    ttfcP50Ms: null,
    ttfcP99Ms: null,
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

/** A server that is up for the run, with what has been measured of it so far. */
interface Running {
  readonly name: string;
  readonly sut: ServerUnderTest;
  readonly proc: ServerProcess;
  readonly stats: CallStats;
  readonly rssIdleMb: number | null;
  readonly cpu0: number;
  rssMax: number;
  readonly ttfc: Float64Array[];
  openStarted: number;
  openCompleted: number;
  openSeconds: number;
  warmedUp: boolean;
  closedCalls: number;
  closedSeconds: number;
  /** The load generator's CPU time (ms) during this server's closed-loop rounds. */
  loadgenCpuMs: number;
}

async function startServer(factory: ServerFactory, opts: BenchOptions, tmpDirs: string[], running: Running[]): Promise<void> {
  const tmpDir = mkdtempSync(join(tmpdir(), `agi-bench-${factory.name}-`));
  tmpDirs.push(tmpDir);
  const sut = factory.create({ repoRoot: REPO_ROOT, tmpDir, agiPort: await freePort(), metricsPort: await freePort() });
  const proc = new ServerProcess(sut);
  await proc.waitReady();
  if (factory.name === 'agent') await recordAgentSequences(sut, opts);
  await sleep(300);
  const rssIdleMb = proc.rssMb();
  running.push({
    name: factory.name,
    sut,
    proc,
    stats: new CallStats(),
    rssIdleMb,
    cpu0: proc.cpuMs(),
    rssMax: rssIdleMb ?? 0,
    ttfc: [],
    openStarted: 0,
    openCompleted: 0,
    openSeconds: 0,
    warmedUp: false,
    closedCalls: 0,
    closedSeconds: 0,
    loadgenCpuMs: 0,
  });
}

function resultOf(r: Running, opts: BenchOptions): ServerResult {
  const ttfc = new Float64Array(r.ttfc.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of r.ttfc) {
    ttfc.set(a, at);
    at += a.length;
  }
  ttfc.sort();
  return {
    name: r.name,
    skipped: null,
    ttfcP50Ms: percentile(ttfc, 0.5),
    ttfcP99Ms: percentile(ttfc, 0.99),
    openLoopStarted: r.openStarted,
    openLoopCompleted: r.openCompleted,
    openLoopAchievedRate: r.openSeconds > 0 ? r.openStarted / r.openSeconds : null,
    callsPerS: r.closedSeconds > 0 ? r.closedCalls / r.closedSeconds : null,
    rssMb: r.rssMax,
    rssIdleMb: r.rssIdleMb,
    // CPU over both loops, warm-up included, divided by every call the server saw.
    cpuMsPerCall: (r.proc.cpuMs() - r.cpu0) / (r.stats.completed + Math.round(opts.rate * opts.warmupSeconds)),
    commandsPerCall: r.stats.completed > 0 ? r.stats.commands / r.stats.completed : null,
    badCalls: r.stats.bad,
    badSamples: r.stats.badSamples,
    loadgenCpuCores: r.closedSeconds > 0 ? r.loadgenCpuMs / 1000 / r.closedSeconds : null,
  };
}

export async function runBench(opts: BenchOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<ServerResult[]> {
  const skipped = new Map<string, string>();
  const running: Running[] = [];
  const tmpDirs: string[] = [];
  // Every server's RSS, sampled for the whole run (an idle server's does not grow).
  const sampler = setInterval(() => {
    for (const r of running) {
      const rss = r.proc.rssMb();
      if (rss !== null && rss > r.rssMax) r.rssMax = rss;
    }
  }, 100);
  try {
    // In the listed order, the agent first: floor and ding-dong replay the lines recorded from it (bench-servers.ts).
    for (const factory of opts.servers) {
      const why = factory.unavailable(REPO_ROOT);
      if (why === null) await startServer(factory, opts, tmpDirs, running);
      else {
        log(`${factory.name}: skipped (${why})`);
        skipped.set(factory.name, why);
      }
    }
    const roundSeconds = opts.seconds / opts.rounds;
    // Both loops in rounds that take turns between the servers; turns rotate, so that no server is always
    // measured right after the same other one.
    const turns = function* (): Generator<Running> {
      for (let round = 0; round < opts.rounds; round++) for (let k = 0; k < running.length; k++) yield running[(round + k) % running.length] as Running;
    };
    let turn = 0;
    for (const r of turns()) {
      const warmup = r.warmedUp ? 0 : opts.warmupSeconds;
      log(`${r.name}: open loop ${opts.rate}/s, round ${Math.floor(turn++ / running.length) + 1}/${opts.rounds}: ${warmup > 0 ? `${warmup}+` : ''}${roundSeconds} s`);
      const open = await openLoop(r.sut, opts, r.stats, warmup, roundSeconds);
      r.warmedUp = true;
      r.ttfc.push(open.ttfc);
      r.openStarted += open.started;
      r.openCompleted += open.measuredCompleted;
      r.openSeconds += open.measuredSeconds;
      if (r.proc.exited) throw new Error(`${r.name} died during the run:\n${r.proc.tail()}`);
    }
    turn = 0;
    for (const r of turns()) {
      log(`${r.name}: closed loop, ${opts.concurrency} sessions, round ${Math.floor(turn++ / running.length) + 1}/${opts.rounds}: ${roundSeconds} s`);
      const lg0 = process.cpuUsage();
      const closed = await closedLoop(r.sut, opts, r.stats, roundSeconds);
      const lg = process.cpuUsage(lg0);
      r.closedCalls += closed.calls;
      r.closedSeconds += closed.seconds;
      r.loadgenCpuMs += (lg.user + lg.system) / 1000;
      if (r.proc.exited) throw new Error(`${r.name} died during the run:\n${r.proc.tail()}`);
    }
    return opts.servers.map((factory) => {
      const r = running.find((x) => x.name === factory.name);
      return r === undefined ? skippedResult(factory.name, skipped.get(factory.name) ?? 'not started') : resultOf(r, opts);
    });
  } finally {
    clearInterval(sampler);
    for (const r of running) await r.proc.stop();
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  }
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
    rounds: Math.round(envNumber('BENCH_ROUNDS', 5)),
    concurrency: envNumber('BENCH_CONCURRENCY', 200),
    callTimeoutMs: envNumber('BENCH_CALL_TIMEOUT_MS', 10_000),
    mix: env.BENCH_MIX === 'default' ? DEFAULT_MIX : AGENT_MIX,
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
