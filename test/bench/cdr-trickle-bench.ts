// npm run bench:cdr-trickle - what the CDRs of calls trickling in one at a time cost the agent and the controller
// (issue #21 section 4). A private nats-server, the built controller on its own PostgreSQL database, moscow's agent
// enrolled and running as deployed (AMI user `read = system,cdr`, FEDPBX_CDR_FILE on cdr_custom's file), and the
// faithful Asterisk side: the AMI peer and its CDR engine, which for every finished call sends the `Cdr` event (the
// only event of a call that user's read classes let through) and appends the record to the cdr_custom file.
//
// For each rate of BENCH_RATES (calls/s, default 50,200), calls end at that rate for BENCH_SECONDS (default 20); the
// phase lasts until the controller has stored every CDR. Figures per phase: agent CPU ms per call and controller
// CPU ms per CDR (utime+stime from /proc over the phase, minus what the process spends idle over as long, measured
// just before), end-to-end latency from the call's end (the CDR dispatched) to the row's `received_at` (the
// ingest transaction's time), fsyncs per CDR of the agent (fsync + fdatasync syscalls, counted with `perf stat`
// tracepoints where perf works, else null), and CDRs lost (dispatched and not stored).
// Prints a table, then ONE JSON line; the headline keys are the worst over the rates (`by_rate` has each).
// Run: node --conditions=@fedpbx/source --import tsx test/bench/cdr-trickle-bench.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { AGENT_MAIN, startAgent, type AgentProcess } from '../support/agent-process.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { moscowPjsip } from '../support/asterisk/ami-scenario.js';
import { CdrCustomWriter, type PeerCdr } from '../support/asterisk/cdr-custom-writer.js';
import { PeerCdrEngine } from '../support/asterisk/cdr-engine.js';
import { seedFoundingScenario, startController, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';

const CONF = join(import.meta.dirname, '..', '..', 'deploy', 'asterisk', 'cdr_custom.conf');
const CLK_TCK = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const out = raw.split(',').map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`${name} must be positive numbers, comma-separated; got ${JSON.stringify(raw)}`);
  return out;
}

/** utime + stime of a process in ms (all its threads). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
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
  readonly rate: number;
  readonly calls: number;
  readonly agentCpuMsPerCall: number;
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
const round = (n: number | null, digits = 3): number | null => (n === null ? null : Number(n.toFixed(digits)));

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
  const seconds = Number(process.env.BENCH_SECONDS ?? 20);
  const idleSeconds = 3;
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
    ami = await AmiPeer.start({ systemName: 'moscow' });
    ami.pjsip = moscowPjsip();
    const logDir = join(dir, 'log-asterisk');
    mkdirSync(join(logDir, 'cdr-custom'), { recursive: true });
    const writer = CdrCustomWriter.fromFile(CONF, logDir);
    const engine = new PeerCdrEngine(ami, writer);
    agent = await startAgent({
      FEDPBX_SITE_ID: 'moscow',
      FEDPBX_STATE_DIR: stateDir,
      FEDPBX_AMI_HOST: '127.0.0.1',
      FEDPBX_AMI_PORT: String(ami.port),
      FEDPBX_AMI_USER: DEFAULT_AMI_USER.name,
      FEDPBX_AMI_SECRET: DEFAULT_AMI_USER.secret,
      FEDPBX_CDR_FILE: writer.paths[0] as string,
    }, { nodeArgs: (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '') });
    const peer = ami;
    await peer.waitFor(() => peer.loggedInSessions.length > 0, 10_000);
    const metricsPort = agent.metricsPort;
    await until('moscow has its snapshot', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 200, 30_000);
    client = new pg.Client({ connectionString: db.url! });
    await client.connect();
    const agentPid = agent.pid;
    const controllerPid = controller.pid() as number;
    const natsPid = nats.pid() as number;

    const run = String(Date.now());
    // Warm-up: a few seconds of calls, so that JIT and first-use costs do not fall on the first rate.
    for (let i = 0; i < 100; i++) {
      engine.dispatch(peerCdr(`${run}w`));
      await sleep(20);
    }
    const pgClient = client;
    const storedCount = async (prefix: string): Promise<number> =>
      Number((await pgClient.query<{ n: string }>("SELECT count(*) AS n FROM cdrs WHERE site_id = 'moscow' AND cdr_id LIKE $1", [`${prefix}%`])).rows[0]?.n ?? 0);
    await until('warm-up CDRs stored', async () => (await storedCount(`moscow-${run}w.`)) >= 100, 30_000);

    for (const rate of rates) {
      // What each process spends doing nothing (heartbeats, polls, timers), to take out of the phase's figure.
      const idle0 = [cpuMs(agentPid), cpuMs(controllerPid), cpuMs(natsPid)];
      await sleep(idleSeconds * 1000);
      const idle = [cpuMs(agentPid) - idle0[0]!, cpuMs(controllerPid) - idle0[1]!, cpuMs(natsPid) - idle0[2]!].map((ms) => ms / idleSeconds);

      const prefix = `moscow-${run}r${rate}.`;
      const ends = new Map<string, number>();
      const fsyncs = FsyncCounter.start(agentPid);
      await sleep(200); // perf attached
      const cpu0 = [cpuMs(agentPid), cpuMs(controllerPid), cpuMs(natsPid)];
      const t0 = performance.now();
      const total = Math.round(rate * seconds);
      let sent = 0;
      log(`rate ${rate}/s: ${total} calls over ${seconds} s`);
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
        while (sent < due) {
          const cdr = peerCdr(`${run}r${rate}`);
          ends.set(`${cdr.uniqueid}:${cdr.sequence}`, cdr.end);
          engine.dispatch(cdr);
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
      const fsyncCount = fsyncs === null ? null : await fsyncs.stop();
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
        rate,
        calls: total,
        agentCpuMsPerCall: spent[0]! / total,
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
        `rate ${rate}/s: agent ${round(result.agentCpuMsPerCall)} ms CPU/call (idle ${round(idle[0]!, 1)} ms/s), controller ${round(result.controllerCpuMsPerCdr)} ms/CDR (idle ${round(idle[1]!, 1)} ms/s), nats ${round(result.natsCpuMsPerCdr)} ms/CDR; e2e p50 ${round(result.e2eP50Ms, 1)} p99 ${round(result.e2eP99Ms, 1)} max ${round(result.e2eMaxMs, 1)} ms; fsyncs/CDR ${round(result.fsyncsPerCdr, 2)}; lost ${result.lost}${drained ? '' : ' (not drained in 60 s)'}`,
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

  const head = ['calls/s', 'calls', 'agent ms/call', 'controller ms/CDR', 'nats ms/CDR', 'e2e p50 ms', 'e2e p99 ms', 'e2e max ms', 'fsyncs/CDR', 'lost'];
  const rows = results.map((r) => [r.rate, r.calls, round(r.agentCpuMsPerCall), round(r.controllerCpuMsPerCdr), round(r.natsCpuMsPerCdr), round(r.e2eP50Ms, 1), round(r.e2eP99Ms, 1), round(r.e2eMaxMs, 1), round(r.fsyncsPerCdr, 2), r.lost].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  process.stdout.write(`${[head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n')}\n`);
  const worst = (f: (r: PhaseResult) => number | null): number | null => {
    const xs = results.map(f).filter((x): x is number => x !== null);
    return xs.length === 0 ? null : Math.max(...xs);
  };
  const byRate = (f: (r: PhaseResult) => number | null, digits = 3): Record<string, number | null> => Object.fromEntries(results.map((r) => [String(r.rate), round(f(r), digits)]));
  process.stdout.write(
    `${JSON.stringify({
      agent_cdr_cpu_ms_per_call: round(worst((r) => r.agentCpuMsPerCall)),
      controller_cpu_ms_per_cdr: round(worst((r) => r.controllerCpuMsPerCdr)),
      cdr_e2e_p50_ms: round(worst((r) => r.e2eP50Ms), 1),
      cdr_e2e_p99_ms: round(worst((r) => r.e2eP99Ms), 1),
      cdr_fsyncs_per_cdr: round(worst((r) => r.fsyncsPerCdr), 2),
      cdr_lost: results.reduce((n, r) => n + r.lost, 0),
      by_rate: {
        agent_cdr_cpu_ms_per_call: byRate((r) => r.agentCpuMsPerCall),
        controller_cpu_ms_per_cdr: byRate((r) => r.controllerCpuMsPerCdr),
        nats_cpu_ms_per_cdr: byRate((r) => r.natsCpuMsPerCdr),
        cdr_e2e_p50_ms: byRate((r) => r.e2eP50Ms, 1),
        cdr_e2e_p99_ms: byRate((r) => r.e2eP99Ms, 1),
        cdr_fsyncs_per_cdr: byRate((r) => r.fsyncsPerCdr, 2),
        cdr_lost: byRate((r) => r.lost, 0),
      },
      rates,
      seconds,
    })}\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`cdr-trickle bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
