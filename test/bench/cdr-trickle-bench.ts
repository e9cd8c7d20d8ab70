// npm run bench:cdr-trickle - what the CDRs of calls trickling in one at a time cost the agent and the controller
// (issue #21 section 4). A private nats-server, the built controller on its own PostgreSQL database, moscow's agent
// enrolled and running as deployed (the AMI user of deploy/asterisk/manager_fedpbx.conf, read from the file: classes
// and eventfilter lines; FEDPBX_CDR_FILE on cdr_custom's file), and the faithful Asterisk side: the AMI peer and its
// CDR engine. For every call the user's classes and filters let two per-call events through besides the `Cdr` (and
// the cdr_custom record): the calling phone's DeviceStateChange to INUSE when its channel appears and back to
// NOT_INUSE at hangup (chan_pjsip's device state; the callee is at the other site, the trunk endpoint's aggregate
// state stays INUSE while calls overlap). Every other per-call event is excluded by the file's eventfilter lines.
//
// For each rate of BENCH_RATES (calls/s, default 50,200), calls end at that rate for BENCH_SECONDS (default 20); the
// phase lasts until the controller has stored every CDR. Figures per phase: agent CPU ms per call and controller
// CPU ms per CDR: CPU over the phase, minus what the process spends at rest over as long. How (session 15): CPU is
// each thread's schedstat run time (ns, summed over /proc/<pid>/task; /proc stat's 10 ms ticks moved an agent's
// few ms a second at rest in steps of 2 ms/s), and the rest rate is measured over a settled window just before
// the phase (BENCH_IDLE_SECONDS, default 10): first at least BENCH_SETTLE_SECONDS (default 8) after the last work
// (start, warm-up, previous phase), then until three one-second rates agree (within 1 ms/s or 30%; at most 30 s
// more), so the collections V8 runs after a burst fall in neither the rest window nor the next phase; the rest rate
// is the median of the window's one-second slices (a collection left over - the memory reducer's come ~8 s apart -
// is one slice, not the rest's rate; the mean is printed beside it). The rest rate
// is also measured just after the phase over as long (`agent_idle_after_cpu_ms_per_s`: the phase's aftermath, its
// garbage collected), and each figure is given with nothing subtracted (by_rate `agent_cpu_ms_per_call_with_idle`)
// and with the aftermath counted in (`agent_cpu_ms_per_call_with_aftermath`: phase plus after-window, less the
// rest rate before over both). `agent_idle_cpu_ms_per_s` and `controller_idle_cpu_ms_per_s` are the rates before.
// The agent's main-thread GC pauses (its own nodejs_gc_duration_seconds) are given for the phase, per call
// (`agent_gc_pause_ms_per_call`), and for the after-window (`agent_gc_pause_ms_after`): where V8's collections fell.
// End-to-end latency is from the call's end (the CDR dispatched) to the row's `received_at` (the
// ingest transaction's time), fsyncs per CDR of the agent (fsync + fdatasync syscalls, counted with `perf stat`
// tracepoints where perf works, else null), and CDRs lost (dispatched and not stored).
// Prints a table, then ONE JSON line; the headline keys are the worst over the rates (`by_rate` has each).
// A/B in one run: BENCH_AGENT_MAINS=<main.js of build A>,<main.js of build B> runs each rate's phase once per build
// (the agent restarted on the same state between phases, the order reversed from one rate to the next, repeated
// BENCH_ROUNDS times), and adds `by_build` (label: the build's directory relative to the repo); the headline keys
// are then this tree's build's (apps/agent/dist) when it is one of them, else the first's, median over rounds.
// Run: node --conditions=@fedpbx/source --import tsx test/bench/cdr-trickle-bench.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { AGENT_MAIN, startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer } from '../support/asterisk/ami-peer.js';
import { deployedAmiUser } from '../support/asterisk/deployed-ami-user.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { PeerCdrEngine } from '../support/asterisk/cdr-engine.js';
import { seedFoundingScenario, startController, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const out = raw.split(',').map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`${name} must be positive numbers, comma-separated; got ${JSON.stringify(raw)}`);
  return out;
}

/**
 * CPU ms of a process: each thread's run time from schedstat (nanoseconds, not stat's 10 ms ticks: an agent at rest
 * spends a few ms a second, a handful of ticks). Summed over the live threads: a thread that ended took its time with
 * it (the agent's, the controller's and nats-server's threads live as long as they do).
 */
function cpuMs(pid: number): number {
  let ms = 0;
  for (const ns of threadCpuMs(pid).values()) ms += ns;
  return ms;
}

/**
 * CPU ms per thread name: `main` (the event loop), `node` (libuv's fs pool, V8's helpers, worker threads: Node 20
 * names them all `node`). From schedstat (nanoseconds).
 */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(name, (out.get(name) ?? 0) + ns / 1e6);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Waits until the agent is at rest: at least `minSeconds`, then until three one-second CPU rates agree (within
 * 1 ms/s or 30% of the largest), at most `maxSeconds` more. After a burst V8 collects its garbage over the next
 * seconds (scavenges, then the memory reducer's full collections); measured in the rest window they would be taken
 * out of the next phase, left to fall into the phase they would be counted in it. Returns the seconds waited.
 */
async function settle(pid: number, minSeconds: number, maxSeconds: number): Promise<number> {
  const t0 = performance.now();
  await sleep(minSeconds * 1000);
  const rates: number[] = [];
  let last = cpuMs(pid);
  const deadline = t0 + (minSeconds + maxSeconds) * 1000;
  while (performance.now() < deadline) {
    await sleep(1000);
    const now = cpuMs(pid);
    rates.push(now - last);
    last = now;
    const recent = rates.slice(-3);
    if (recent.length === 3 && Math.max(...recent) - Math.min(...recent) <= Math.max(1, 0.3 * Math.max(...recent))) break;
  }
  return (performance.now() - t0) / 1000;
}

/**
 * What each process spends at rest (ms of CPU a second) over `seconds` one-second slices: the median slice (what is
 * taken out of a phase: a full collection V8 runs seconds after a burst - the memory reducer's, ~8 s apart - is the
 * burst's cost, not the rest's; it falls in one slice) and the mean (the whole window, as measured before).
 */
async function restRates(pids: readonly number[], seconds: number): Promise<{ median: number; mean: number }[]> {
  const slices: number[][] = pids.map(() => []);
  let last = pids.map((pid) => cpuMs(pid));
  for (let i = 0; i < Math.max(1, Math.round(seconds)); i++) {
    await sleep(1000);
    const now = pids.map((pid) => cpuMs(pid));
    now.forEach((ms, j) => slices[j]!.push(ms - last[j]!));
    last = now;
  }
  return slices.map((xs) => ({ median: medianOf(xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length }));
}

function medianOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The agent's main-thread GC pauses so far, ms by kind (major, minor, incremental, weakcb), from its /metrics. */
async function gcPauseMs(metricsPort: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const m of text.matchAll(/^fedpbx_agent_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]) * 1000);
  return out;
}

/** Counts a process's fsync and fdatasync calls with perf's syscall tracepoints (no ptrace: no cost to it). */
class FsyncCounter {
  private constructor(private readonly child: ChildProcess, private readonly out: { text: string }) {}

  static start(pid: number): FsyncCounter | null {
    if (spawnSync('perf', ['--version']).status !== 0) return null;
    const out = { text: '' };
    const child = spawn('perf', ['stat', '-x', ',', '-e', 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (out.text += d.toString()));
    return new FsyncCounter(child, out);
  }

  /** Stops counting; the total, or null when perf could not count. */
  async stop(): Promise<number | null> {
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGINT');
    await Promise.race([exited, sleep(3000)]);
    let total = 0;
    let counted = 0;
    for (const line of this.out.text.split('\n')) {
      const [value, , event] = line.split(',');
      if (event?.includes('sys_enter_f') && value !== undefined && /^\d+$/.test(value)) {
        total += Number(value);
        counted += 1;
      }
    }
    return counted === 2 ? total : null;
  }
}

interface PhaseResult {
  readonly build: string;
  readonly round: number;
  readonly rate: number;
  readonly calls: number;
  readonly agentCpuMsPerCall: number;
  /** The same before the idle CPU is taken out. */
  readonly agentGrossCpuMsPerCall: number;
  /** The phase and the after-window, less the rest rate before over both: the phase's garbage collected counted in. */
  readonly agentWithAftermathMsPerCall: number;
  /** What the agent and the controller spend at rest (ms of CPU per second), measured just before the phase (settled). */
  readonly agentIdleMsPerS: number;
  /** The agent's rate at rest just after the phase (over as long). */
  readonly agentIdleAfterMsPerS: number;
  /** Seconds waited for the agent to settle before the rest window. */
  readonly settleS: number;
  /** The agent's main-thread GC pauses (its nodejs_gc_duration_seconds) in the phase, per call, and in the after-window. */
  readonly agentGcMsPerCall: number;
  readonly agentGcAfterMs: number;
  readonly controllerIdleMsPerS: number;
  readonly controllerCpuMsPerCdr: number;
  readonly natsCpuMsPerCdr: number;
  readonly e2eP50Ms: number | null;
  readonly e2eP99Ms: number | null;
  readonly e2eMaxMs: number | null;
  readonly fsyncsPerCdr: number | null;
  readonly lost: number;
  readonly drainMs: number;
}

const percentile = (sorted: readonly number[], q: number): number | null => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number));
const fix = (n: number | null, digits = 3): number | null => (n === null ? null : Number(n.toFixed(digits)));

let seq = 0;
/** One answered call at moscow (101 -> piter 301), as Asterisk's CDR engine finishes it now. */
function peerCdr(run: string): PeerCdr {
  const i = ++seq;
  const end = Date.now();
  return {
    uniqueid: `moscow-${run}.${i}`,
    linkedid: `moscow-${run}.${i}`,
    start: end - 65_000,
    answer: end - 60_000,
    end,
    src: '101',
    dst: '301',
    dcontext: 'fedpbx-internal',
    channel: `PJSIP/101-${i.toString(16).padStart(8, '0')}`,
    dstchannel: `PJSIP/site-piter-${i.toString(16).padStart(8, '0')}`,
    lastapp: 'Dial',
    lastdata: 'PJSIP/301@site-piter,30,tT',
    disposition: 'ANSWERED',
    sequence: i,
    vars: { FEDPBX_ROUTE: 'site', FEDPBX_ORIGIN: 'moscow', FEDPBX_TARGET: 'piter', FEDPBX_REVISION: '1' },
  };
}

async function main(): Promise<void> {
  const rates = envList('BENCH_RATES', [50, 200]);
  const builds = (process.env.BENCH_AGENT_MAINS ?? '').split(',').filter((m) => m.trim() !== '').map((m) => resolve(m.trim()));
  if (builds.length === 0) builds.push(AGENT_MAIN);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  // The rest windows (before and after each phase), and the least wait for the agent to settle before the first.
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
  const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 8);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  let nats: TestNatsServer | undefined;
  let db: TestDatabase | undefined;
  let controller: ControllerProcess | undefined;
  let ami: AmiPeer | undefined;
  let agent: AgentProcess | undefined;
  let client: pg.Client | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-cdr-trickle-'));
  const results: PhaseResult[] = [];
  try {
    nats = await startNatsServer();
    db = await createTestDatabase({ require: 'postgres' });
    const issuerFile = join(dir, 'issuer.json');
    writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
    controller = await startController(
      { DATABASE_URL: db.url!, FEDPBX_DATA_DIR: join(dir, 'controller'), FEDPBX_NATS_URL: nats.url, FEDPBX_NATS_ISSUER_FILE: issuerFile },
      (process.env.BENCH_CONTROLLER_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    );
    await seedFoundingScenario(controller);
    const stateDir = join(dir, 'agent-moscow');
    mkdirSync(stateDir);
    const issued = await controller.api<{ token: string }>('POST', '/api/v1/sites/moscow/enrollment-tokens', {}, await controller.adminToken());
    const enroll = spawnSync(process.execPath, [AGENT_MAIN, 'enroll', '--controller', controller.url, '--token', issued.body.token], {
      env: { PATH: process.env.PATH ?? '', FEDPBX_STATE_DIR: stateDir, FEDPBX_SITE_ID: 'moscow' },
      encoding: 'utf8',
    });
    if (enroll.status !== 0) throw new Error(`enroll failed: ${enroll.stderr}`);
    const deployed = deployedAmiUser();
    ami = await AmiPeer.start({ systemName: 'moscow', users: { [deployed.name]: deployed.user } });
    ami.pjsip = moscowPjsip();
    const logDir = join(dir, 'log-asterisk');
    mkdirSync(join(logDir, 'cdr-custom'), { recursive: true });
    const writer = CdrCustomWriter.fromFile(CONF, logDir);
    const engine = new PeerCdrEngine(ami, writer);
    const peer = ami;
    /** A finished call as the agent's AMI session sees it: the phone's device state in and out, then its CDR. */
    const endCall = (cdr: PeerCdr): void => {
      const device = `PJSIP/${cdr.src}`;
      peer.setDeviceState(device, 'INUSE');
      peer.setDeviceState(device, 'NOT_INUSE');
      engine.dispatch(cdr);
    };
    const agentEnv = {
      FEDPBX_SITE_ID: 'moscow',
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_AMI_HOST: '127.0.0.1',
      FEDPBX_AMI_PORT: String(ami.port),
      FEDPBX_AMI_USER: deployed.name,
      FEDPBX_AMI_SECRET: deployed.user.secret,
      FEDPBX_CDR_FILE: writer.paths[0] as string,
    };
    const nodeArgs = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    let running: string | undefined;
    /** The agent of this build, started (the previous build's stopped first) and warmed up. */
    const launch = async (main: string): Promise<AgentProcess> => {
      if (running === main && agent !== undefined) return agent;
      if (agent !== undefined) await agent.stop();
      agent = undefined;
      agent = await startAgent(agentEnv, { main, nodeArgs });
      running = main;
      const metricsPort = agent.metricsPort;
      await until('moscow has its snapshot', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 200, 30_000);
      await until('AMI logged in', async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).includes('fedpbx_connection_up{peer="ami"} 1'), 30_000);
      // Warm-up: a few seconds of calls, so that JIT and first-use costs do not fall on the phase.
      const tag = `${run}w${++warmups}`;
      for (let i = 0; i < 100; i++) {
        endCall(peerCdr(tag));
        await sleep(20);
      }
      await until('warm-up CDRs stored', async () => (await storedCount(`moscow-${tag}.`)) >= 100, 30_000);
      return agent;
    };
    let warmups = 0;
    client = new pg.Client({ connectionString: db.url! });
    await client.connect();
    const controllerPid = controller.pid() as number;
    const natsPid = nats.pid() as number;
    const run = String(Date.now());
    const pgClient = client;
    async function storedCount(prefix: string): Promise<number> {
      return Number((await pgClient.query<{ n: string }>("SELECT count(*) AS n FROM cdrs WHERE site_id = 'moscow' AND cdr_id LIKE $1", [`${prefix}%`])).rows[0]?.n ?? 0);
    }

    const phases: { rate: number; main: string; round: number }[] = [];
    let flip = false;
    for (let round = 1; round <= rounds; round++) {
      for (const rate of rates) {
        for (const main of flip ? [...builds].reverse() : builds) phases.push({ rate, main, round });
        flip = !flip;
      }
    }
    for (const { rate, main, round } of phases) {
      const running = await launch(main);
      const agentPid = running.pid;
      const build = label(main);
      // What each process spends doing nothing (heartbeats, polls, timers), to take out of the phase's figure:
      // measured once the agent has settled after its start, warm-up or previous phase.
      const settleS = await settle(agentPid, settleSeconds, 30);
      const idleThreads0 = threadCpuMs(agentPid);
      const rest = await restRates([agentPid, controllerPid, natsPid], idleSeconds);
      const idle = rest.map((r) => r.median);
      const idleThreads = [...threadCpuMs(agentPid)].map(([name, ms]) => `${name} ${fix((ms - (idleThreads0.get(name) ?? 0)) / idleSeconds, 1)}`).join(', ');

      const tag = `${run}b${phases.findIndex((p) => p.rate === rate && p.main === main && p.round === round)}r${rate}`;
      const prefix = `moscow-${tag}.`;
      const ends = new Map<string, number>();
      const gc0 = await gcPauseMs(running.metricsPort);
      const fsyncs = FsyncCounter.start(agentPid);
      await sleep(200); // perf attached
      const cpu0 = [cpuMs(agentPid), cpuMs(controllerPid), cpuMs(natsPid)];
      const threads0 = threadCpuMs(agentPid);
      const logsBefore = running.logs.length;
      const controllerOutputBefore = controller.output.length;
      const t0 = performance.now();
      const total = Math.round(rate * seconds);
      let sent = 0;
      log(`${build}, round ${round}, rate ${rate}/s: ${total} calls over ${seconds} s`);
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
        while (sent < due) {
          const cdr = peerCdr(tag);
          ends.set(`${cdr.uniqueid}:${cdr.sequence}`, cdr.end);
          endCall(cdr);
          sent += 1;
        }
        const wait = t0 + (sent / rate) * 1000 - performance.now();
        await sleep(Math.max(1, Math.min(wait, 20)));
      }
      const sentAt = performance.now();
      let drained = true;
      try {
        await until(`${total} CDRs stored`, async () => (await storedCount(prefix)) >= total, 60_000);
      } catch {
        drained = false;
      }
      const elapsedS = (performance.now() - t0) / 1000;
      const cpu1 = [cpuMs(agentPid), cpuMs(controllerPid), cpuMs(natsPid)];
      const threads = [...threadCpuMs(agentPid)].map(([name, ms]) => `${name} ${fix((ms - (threads0.get(name) ?? 0)) / total)}`).join(', ');
      const fsyncCount = fsyncs === null ? null : await fsyncs.stop();
      // The aftermath: the agent's rate just after the phase, over as long as the rest window before (the scrape
      // just before it costs the agent a few ms: ~0.3 ms/s of its rate).
      const gc1 = await gcPauseMs(running.metricsPort);
      const after0 = cpuMs(agentPid);
      await sleep(idleSeconds * 1000);
      const afterMs = cpuMs(agentPid) - after0;
      const gc2 = await gcPauseMs(running.metricsPort);
      const gcOf = (from: Map<string, number>, to: Map<string, number>): string =>
        [...to].map(([kind, ms]) => `${kind} ${fix(ms - (from.get(kind) ?? 0), 1)}`).join(', ');
      const gcTotal = (from: Map<string, number>, to: Map<string, number>): number => [...to].reduce((n, [kind, ms]) => n + ms - (from.get(kind) ?? 0), 0);
      // What the agent warned of meanwhile (a batch not acknowledged and sent again shows in the latency).
      const warnings = running.logs.slice(logsBefore).filter((l) => Number(l.level) >= 40);
      if (warnings.length > 0) log(`${build}, round ${round}, rate ${rate}/s: the agent logged ${warnings.length} warnings/errors, the first: ${JSON.stringify({ msg: warnings[0]!.msg, err: warnings[0]!.err })}`);
      const controllerWarnings = controller.output.slice(controllerOutputBefore).filter((l) => /"level":(4|5|6)0/.test(l));
      if (controllerWarnings.length > 0) log(`${build}, round ${round}, rate ${rate}/s: the controller logged ${controllerWarnings.length} warnings/errors, the first: ${controllerWarnings[0]!.slice(0, 300)}`);
      const rows = (
        await pgClient.query<{ cdr_id: string; received_ms: string }>("SELECT cdr_id, (extract(epoch FROM received_at) * 1000)::float8 AS received_ms FROM cdrs WHERE site_id = 'moscow' AND cdr_id LIKE $1", [`${prefix}%`])
      ).rows;
      const latencies = rows.flatMap((r) => {
        const end = ends.get(r.cdr_id);
        return end === undefined ? [] : [Number(r.received_ms) - end];
      });
      latencies.sort((a, b) => a - b);
      const spent = cpu1.map((c, i) => Math.max(0, c - cpu0[i]! - idle[i]! * elapsedS));
      const result: PhaseResult = {
        build,
        round,
        rate,
        calls: total,
        agentCpuMsPerCall: spent[0]! / total,
        agentGrossCpuMsPerCall: (cpu1[0]! - cpu0[0]!) / total,
        agentWithAftermathMsPerCall: Math.max(0, cpu1[0]! - cpu0[0]! + afterMs - idle[0]! * (elapsedS + idleSeconds)) / total,
        agentIdleMsPerS: idle[0]!,
        agentIdleAfterMsPerS: afterMs / idleSeconds,
        settleS,
        agentGcMsPerCall: gcTotal(gc0, gc1) / total,
        agentGcAfterMs: gcTotal(gc1, gc2),
        controllerIdleMsPerS: idle[1]!,
        controllerCpuMsPerCdr: spent[1]! / total,
        natsCpuMsPerCdr: spent[2]! / total,
        e2eP50Ms: percentile(latencies, 0.5),
        e2eP99Ms: percentile(latencies, 0.99),
        e2eMaxMs: percentile(latencies, 1),
        fsyncsPerCdr: fsyncCount === null ? null : fsyncCount / total,
        lost: total - new Set(rows.map((r) => r.cdr_id)).size,
        drainMs: performance.now() - sentAt,
      };
      results.push(result);
      log(
        `${build}, round ${round}, rate ${rate}/s: agent ${fix(result.agentCpuMsPerCall)} ms CPU/call (gross ${fix(result.agentGrossCpuMsPerCall)}, with aftermath ${fix(result.agentWithAftermathMsPerCall)}; at rest ${fix(idle[0]!, 2)} ms/s before (median of 1 s; mean ${fix(rest[0]!.mean, 2)}) after ${fix(settleS, 0)} s settling, ${fix(result.agentIdleAfterMsPerS, 2)} after), controller ${fix(result.controllerCpuMsPerCdr)} ms/CDR (idle ${fix(idle[1]!, 1)} ms/s), nats ${fix(result.natsCpuMsPerCdr)} ms/CDR; e2e p50 ${fix(result.e2eP50Ms, 1)} p99 ${fix(result.e2eP99Ms, 1)} max ${fix(result.e2eMaxMs, 1)} ms; fsyncs/CDR ${fix(result.fsyncsPerCdr, 2)}; lost ${result.lost}${drained ? '' : ' (not drained in 60 s)'}; agent threads ms/call (idle not taken out): ${threads}; agent at rest by thread ms/s: ${idleThreads}; agent GC pauses ms in the phase: ${gcOf(gc0, gc1)}, after it: ${gcOf(gc1, gc2)}`,
      );
    }
  } finally {
    await client?.end().catch(() => undefined);
    await agent?.stop();
    await ami?.close();
    await controller?.stop();
    await nats?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }

  const head = ['build', 'round', 'calls/s', 'calls', 'agent ms/call', 'gross', 'w/ aftermath', 'rest ms/s before', 'after', 'controller ms/CDR', 'nats ms/CDR', 'e2e p50 ms', 'e2e p99 ms', 'e2e max ms', 'fsyncs/CDR', 'lost'];
  const rows = results.map((r) => [r.build, r.round, r.rate, r.calls, fix(r.agentCpuMsPerCall), fix(r.agentGrossCpuMsPerCall), fix(r.agentWithAftermathMsPerCall), fix(r.agentIdleMsPerS, 2), fix(r.agentIdleAfterMsPerS, 2), fix(r.controllerCpuMsPerCdr), fix(r.natsCpuMsPerCdr), fix(r.e2eP50Ms, 1), fix(r.e2eP99Ms, 1), fix(r.e2eMaxMs, 1), fix(r.fsyncsPerCdr, 2), r.lost].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  process.stdout.write(`${[head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n')}\n`);

  const median = (xs: readonly number[]): number | null => {
    if (xs.length === 0) return null;
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  };
  /** Per rate, the median over rounds of one build's figure. */
  const byRateOf = (of: readonly PhaseResult[], f: (r: PhaseResult) => number | null, digits = 3): Record<string, number | null> =>
    Object.fromEntries(rates.map((rate) => [String(rate), fix(median(of.filter((r) => r.rate === rate).map(f).filter((x): x is number => x !== null)), digits)]));
  const figures = (of: readonly PhaseResult[]) => ({
    agent_cdr_cpu_ms_per_call: byRateOf(of, (r) => r.agentCpuMsPerCall),
    agent_cpu_ms_per_call_with_idle: byRateOf(of, (r) => r.agentGrossCpuMsPerCall),
    agent_cpu_ms_per_call_with_aftermath: byRateOf(of, (r) => r.agentWithAftermathMsPerCall),
    agent_idle_cpu_ms_per_s: byRateOf(of, (r) => r.agentIdleMsPerS, 2),
    agent_idle_after_cpu_ms_per_s: byRateOf(of, (r) => r.agentIdleAfterMsPerS, 2),
    agent_gc_pause_ms_per_call: byRateOf(of, (r) => r.agentGcMsPerCall),
    agent_gc_pause_ms_after: byRateOf(of, (r) => r.agentGcAfterMs, 1),
    controller_idle_cpu_ms_per_s: byRateOf(of, (r) => r.controllerIdleMsPerS, 1),
    controller_cpu_ms_per_cdr: byRateOf(of, (r) => r.controllerCpuMsPerCdr),
    nats_cpu_ms_per_cdr: byRateOf(of, (r) => r.natsCpuMsPerCdr),
    cdr_e2e_p50_ms: byRateOf(of, (r) => r.e2eP50Ms, 1),
    cdr_e2e_p99_ms: byRateOf(of, (r) => r.e2eP99Ms, 1),
    cdr_fsyncs_per_cdr: byRateOf(of, (r) => r.fsyncsPerCdr, 2),
    cdr_lost: Object.fromEntries(rates.map((rate) => [String(rate), of.filter((r) => r.rate === rate).reduce((n, r) => n + r.lost, 0)])),
  });
  const headline = label(builds.includes(AGENT_MAIN) ? AGENT_MAIN : (builds[0] as string));
  const mine = results.filter((r) => r.build === headline);
  const byRate = figures(mine);
  const worst = (per: Record<string, number | null>): number | null => {
    const xs = Object.values(per).filter((x): x is number => x !== null);
    return xs.length === 0 ? null : Math.max(...xs);
  };
  process.stdout.write(
    `${JSON.stringify({
      agent_cdr_cpu_ms_per_call: worst(byRate.agent_cdr_cpu_ms_per_call),
      controller_cpu_ms_per_cdr: worst(byRate.controller_cpu_ms_per_cdr),
      cdr_e2e_p50_ms: worst(byRate.cdr_e2e_p50_ms),
      cdr_e2e_p99_ms: worst(byRate.cdr_e2e_p99_ms),
      cdr_fsyncs_per_cdr: worst(byRate.cdr_fsyncs_per_cdr),
      // At rest, taken out of the per-call figures above (worst over the phases' idle spells): shown, not hidden.
      agent_idle_cpu_ms_per_s: worst(byRate.agent_idle_cpu_ms_per_s),
      controller_idle_cpu_ms_per_s: worst(byRate.controller_idle_cpu_ms_per_s),
      // Every phase's losses, of every build.
      cdr_lost: results.reduce((n, r) => n + r.lost, 0),
      by_rate: byRate,
      ...(builds.length > 1 ? { build: headline, by_build: Object.fromEntries(builds.map((b) => [label(b), figures(results.filter((r) => r.build === label(b)))])) } : {}),
      rates,
      seconds,
      rounds,
      cpu_how: `schedstat ns over all threads; rest rate before each phase: median of ${idleSeconds} 1 s slices once settled (>= ${settleSeconds} s, then three 1 s rates within 1 ms/s or 30%), and after it over as long`,
    })}\n`,
  );
}

/** A build's name in the output: its directory relative to the repository. */
function label(main: string): string {
  return relative(join(import.meta.dirname, '..', '..'), join(main, '..'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`cdr-trickle bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
