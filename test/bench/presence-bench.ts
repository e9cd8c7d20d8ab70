// bench:presence - busy lamps across a federation of 200 sites with 100 shared extensions each, state changes at
// 2,000/s across the federation, through a real nats-server (operator mode, every agent with its own credentials
// and presence permissions) and one faithful AMI peer per site (DeviceStateChange in, Setvar of DEVICE_STATE out).
//
// Who watches whom: the hub (s000, the head office) shows every other site's extensions (remoteHints: all, 19,900
// lamps); every branch shows the hub and the next branch (remoteHints: listed). A change at a branch therefore goes
// to 2 sites, a change at the hub to 199.
//
// Figures: latency from the owner's DeviceStateChange (AMI peer write) to the Setvar arriving at each watching site's
// AMI peer (both in this process: one clock), p50/p99 over every delivery; deliveries lost (expected - received, after
// a drain); CPU of the agents' process and of nats-server per 1,000 changes (process.cpuUsage / /proc/<pid>/stat), the
// machine being shared. One JSON line on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Federation, type FederationInput } from '@fedpbx/contracts';
import { SiteViews } from '@fedpbx/dialplan';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { startNatsServer } from '../support/nats-server.js';
import type { PresenceAgentSpec, PresenceAgentsInput } from './presence-agents.js';

const SITES = Number(process.env['BENCH_SITES'] ?? 200);
const EXTENSIONS = Number(process.env['BENCH_EXTENSIONS'] ?? 100);
const RATE = Number(process.env['BENCH_RATE'] ?? 2000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 3);
const COALESCE_MS = Number(process.env['BENCH_COALESCE_MS'] ?? 25);
// Each site's agent runs on its own machine; here they share AGENT_PROCS processes (sites dealt round-robin, the hub
// first), apart from this process, which plays every site's Asterisk (the AMI peers) and the phones.
// BENCH_AMI_FILTER=0: the agents do not ask Asterisk to drop the echo of their own lamp writes (A/B).
const AMI_FILTER = process.env['BENCH_AMI_FILTER'] !== '0';
// The watchers' periodic state requests (RemoteLamps recheckMs; default its own 30 s): shorter puts them in the window.
const RECHECK_MS = process.env['BENCH_RECHECK_MS'] === undefined ? undefined : Number(process.env['BENCH_RECHECK_MS']);
const AGENT_PROCS = Math.max(1, Number(process.env['BENCH_AGENT_PROCS'] ?? 4));
const STATES = ['INUSE', 'RINGING', 'BUSY', 'ONHOLD', 'RINGINUSE', 'NOT_INUSE'] as const;

const progress = (m: string): void => void process.stderr.write(`[bench:presence] ${m}\n`);
const siteId = (i: number): string => `s${String(i).padStart(3, '0')}`;
const number = (site: number, ext: number): string => String(100000 + site * EXTENSIONS + ext);

function federation(): Federation {
  const hub = siteId(0);
  const input: FederationInput = {
    sites: Array.from({ length: SITES }, (_, i) => ({
      id: siteId(i),
      name: `Site ${i}`,
      presence: i === 0 ? { remoteHints: 'all' } : { remoteHints: 'listed', watch: [{ siteId: hub }, { siteId: siteId(i + 1 < SITES ? i + 1 : 1) }] },
    })),
    numberRanges: Array.from({ length: SITES }, (_, i) => ({ id: `r-${i}`, siteId: siteId(i), from: number(i, 0), to: number(i, EXTENSIONS - 1) })),
    extensions: Array.from({ length: SITES * EXTENSIONS }, (_, k) => {
      const s = Math.floor(k / EXTENSIONS);
      return { id: `e-${k}`, siteId: siteId(s), number: number(s, k % EXTENSIONS), displayName: `Phone ${k}` };
    }),
    trunks: [],
    links: Array.from({ length: SITES - 1 }, (_, i) => ({ id: `l-${i + 1}`, a: hub, b: siteId(i + 1) })),
    outboundRoutes: [],
    inboundRoutes: [],
    callFlows: [],
    classesOfService: [],
    hubSiteId: hub,
  };
  return Federation.parse(input);
}

interface AgentFigures {
  userUs: number;
  systemUs: number;
  writes: number;
  pending: number;
  amiEvents: number;
  held: number;
  resyncs: number;
  gaps: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** utime + stime of a process in ms (/proc/<pid>/stat fields 14 and 15, clock ticks of 10 ms). */
function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-bench-presence-'));
  const nats = await startNatsServer();
  const fed = federation();
  const views = new SiteViews(fed);
  const configs = fed.sites.map((s) => views.of(s.id));
  const watchers = new Map<string, string[]>(); // owner site -> sites that show its lamps
  for (const c of configs) for (const r of c.remotePresence ?? []) watchers.set(r.siteId, [...(watchers.get(r.siteId) ?? []), c.site.id]);
  const lamps = configs.reduce((n, c) => n + (c.remotePresence ?? []).reduce((m, r) => m + r.numbers.length, 0), 0);
  progress(`${SITES} sites x ${EXTENSIONS} extensions, ${lamps} remote lamps; ${RATE} changes/s for ${SECONDS} s after ${WARMUP_SECONDS} s warm-up`);

  const peers = await Promise.all(fed.sites.map((s) => AmiPeer.start({ systemName: s.id, record: false })));
  const agents: PresenceAgentSpec[] = [];
  for (const [i, c] of configs.entries()) {
    const credsFile = join(dir, `${c.site.id}.creds`);
    const presencePeers = c.site.presence?.remoteHints === 'all' ? 'all' : (c.remotePresence ?? []).map((r) => r.siteId);
    writeFileSync(credsFile, await nats.agentCreds(c.site.id, presencePeers), { mode: 0o600 });
    agents.push({ siteId: c.site.id, amiPort: (peers[i] as AmiPeer).port, credsFile, config: c });
  }
  const inputFiles = Array.from({ length: Math.min(AGENT_PROCS, agents.length) }, (_, k) => {
    const file = join(dir, `agents-${k}.json`);
    const mine = agents.filter((_a, i) => i % AGENT_PROCS === k);
    writeFileSync(file, JSON.stringify({ natsUrl: nats.url, amiUser: DEFAULT_AMI_USER.name, amiSecret: DEFAULT_AMI_USER.secret, coalesceMs: COALESCE_MS, amiFilter: AMI_FILTER, recheckMs: RECHECK_MS, agents: mine } satisfies PresenceAgentsInput));
    return file;
  });

  // Deliveries: `<watcher>|<device>|<state>` -> when the owner's Asterisk changed it; measured only in the window.
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let measuring = false;
  for (const [i, peer] of peers.entries()) {
    const watcher = siteId(i);
    peer.onCustomDeviceState((device, state) => {
      const key = `${watcher}|${device}|${state}`;
      const t0 = sent.get(key);
      if (t0 === undefined) return;
      sent.delete(key);
      latencies.push(performance.now() - t0);
    });
  }

  const children = inputFiles.map((file) => {
    const child = spawn(process.execPath, ['--conditions=@fedpbx/source', '--import', 'tsx', ...(process.env['BENCH_AGENT_EXEC_ARGV']?.split(' ') ?? []), new URL('./presence-agents.ts', import.meta.url).pathname, file], { stdio: ['pipe', 'pipe', 'inherit'] });
    const replies: ((m: Record<string, unknown>) => void)[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as Record<string, unknown>;
      if (m['type'] === 'ready') ready();
      else replies.shift()?.(m);
    });
    const ask = (type: 'cpu' | 'stop'): Promise<Record<string, unknown>> =>
      new Promise((resolve) => {
        replies.push(resolve);
        child.stdin.write(`${JSON.stringify({ type })}\n`);
      });
    return { isReady, ask };
  });
  // The figures of every agents process added up.
  const ask = async (type: 'cpu' | 'stop'): Promise<AgentFigures> => {
    const answers = await Promise.all(children.map((c) => c.ask(type)));
    const sum: AgentFigures = { userUs: 0, systemUs: 0, writes: 0, pending: 0, amiEvents: 0, held: 0, resyncs: 0, gaps: 0 };
    for (const a of answers) for (const k of Object.keys(sum) as (keyof AgentFigures)[]) sum[k] += typeof a[k] === 'number' ? a[k] : 0;
    return sum;
  };
  await Promise.all(children.map((c) => c.isReady));
  progress('agents connected; waiting for the initial resync (every lamp written) to drain');
  for (let last = -1; ; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const s = await ask('cpu');
    if (s.pending === 0 && s.writes === last) break;
    last = s.writes;
  }

  // The generator: changes spread evenly over every site's extensions; each extension's next state in a cycle.
  const stateOf = new Uint8Array(SITES * EXTENSIONS);
  let next = 0;
  let changes = 0;
  let expected = 0;
  const run = async (seconds: number, measure: boolean): Promise<void> => {
    measuring = measure;
    const start = performance.now();
    let emitted = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * RATE);
      for (; emitted < due; emitted++) {
        const k = next;
        next = (next + 1) % (SITES * EXTENSIONS);
        const s = Math.floor(k / EXTENSIONS);
        const state = STATES[(stateOf[k] = ((stateOf[k] as number) + 1) % STATES.length)] as string;
        const owner = siteId(s);
        const device = `Custom:fedpbx-${owner}-${number(s, k % EXTENSIONS)}`;
        const t0 = performance.now();
        if (measuring) {
          for (const w of watchers.get(owner) ?? []) sent.set(`${w}|${device}|${state}`, t0);
          changes += 1;
          expected += (watchers.get(owner) ?? []).length;
        }
        (peers[s] as AmiPeer).setDeviceState(`PJSIP/${number(s, k % EXTENSIONS)}`, state);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await run(WARMUP_SECONDS, false);
  const cpu0 = await ask('cpu');
  const natsPid = nats.pid() as number;
  const nats0 = procCpuMs(natsPid);
  const benchCpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(SECONDS, true);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = await ask('cpu');
  const benchCpu1 = process.cpuUsage(benchCpu0);
  progress(`agents: ${cpu1.writes} Setvar sent, ${cpu1.resyncs} state requests, ${cpu1.gaps} gaps seen (since start)`);
  const nats1 = procCpuMs(natsPid);
  progress(`window done (${changes} changes in ${elapsed.toFixed(1)} s); draining`);
  for (let i = 0; i < 100 && sent.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const lost = sent.size;

  await ask('stop');
  await Promise.all(peers.map((p) => p.close()));
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  const agentCpuMs = (cpu1.userUs + cpu1.systemUs - cpu0.userUs - cpu0.systemUs) / 1000;
  const perK = (ms: number): number => Math.round((ms / (changes / 1000)) * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      presence_p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
      presence_p99_ms: Math.round(percentile(latencies, 99) * 10) / 10,
      presence_lost: lost,
      agent_cpu_ms_per_1k: perK(agentCpuMs),
      nats_cpu_ms_per_1k: perK(nats1 - nats0),
      // This process: every site's Asterisk (AMI peers: parse each Setvar, answer it, raise DeviceStateChange) and the phones.
      asterisk_sim_cpu_ms_per_1k: perK((benchCpu1.user + benchCpu1.system) / 1000),
      // AMI events the agents read per change (their phones' DeviceStateChange, and without the filter the echo of
      // every lamp they wrote).
      agent_ami_events_per_change: Math.round(((cpu1.amiEvents - cpu0.amiEvents) / changes) * 100) / 100,
      ami_filter: AMI_FILTER,
      // In the window: state requests made by the watchers, and change batches held back meanwhile (a batch arriving
      // while its site's state request is out waits for the answer).
      state_requests: cpu1.resyncs - cpu0.resyncs,
      batches_held: cpu1.held - cpu0.held,
      agent_procs: children.length,
      load_avg_1m: Math.round(loadavg()[0]! * 10) / 10,
      sites: SITES,
      shared_extensions_per_site: EXTENSIONS,
      remote_lamps: lamps,
      changes,
      changes_per_s: Math.round(changes / elapsed),
      deliveries: expected,
      coalesce_ms: COALESCE_MS,
      recheck_ms: RECHECK_MS ?? 30_000,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
