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
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Federation, type FederationInput } from '@fedpbx/contracts';
import { SiteViews } from '@fedpbx/dialplan';
import { AmiPeer } from '../support/asterisk/ami-peer.js';
import { deployedAmiUser } from '../support/asterisk/deployed-ami-user.js';
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
// BENCH_TRACE=1: every delivery's time at each stage (owner read, published, received, Setvar written), the
// breakdown on stderr and as `stages` in the JSON line; costs the agents some CPU (a few map writes per lamp).
const TRACE = process.env['BENCH_TRACE'] === '1';
// BENCH_PROFILE=<dir>: a CPU profile of each agents process (and of this one) over the measuring window only.
const PROFILE_DIR = process.env['BENCH_PROFILE'];
// The generator's order over the extensions. `random` (default): one fixed, seeded shuffle of every extension,
// taken in turn - phones change independently of one another, as in an office, and each extension changes once per
// round (never twice inside a coalescing window, which would be coalesced, not lost). `by-site` takes a site's 100
// extensions one after the other, so every site's phones all change within 50 ms once per round (at the hub: 100
// changes x 199 watchers = 19,900 lamp writes in ~50 ms, every 10 s): a stress case, not an office. `interleaved`
// takes one extension of each site in turn (each site's changes spread evenly in time, ~10/s per site).
const ORDERS = ['random', 'by-site', 'interleaved'] as const;
const ORDER = (ORDERS as readonly string[]).includes(process.env['BENCH_ORDER'] ?? '') ? (process.env['BENCH_ORDER'] as (typeof ORDERS)[number]) : 'random';
const STATES = ['INUSE', 'RINGING', 'BUSY', 'ONHOLD', 'RINGINUSE', 'NOT_INUSE'] as const;

const progress = (m: string): void => void process.stderr.write(`[bench:presence] ${m}\n`);
const siteId = (i: number): string => `s${String(i).padStart(3, '0')}`;
const number = (site: number, ext: number): string => String(100000 + site * EXTENSIONS + ext);

/** Extension indexes (site x EXTENSIONS + ext) in the order the generator changes them (see ORDER). */
function generatorOrder(kind: (typeof ORDERS)[number], sites: number, extensions: number): Uint32Array {
  const n = sites * extensions;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = kind === 'interleaved' ? (i % sites) * extensions + Math.floor(i / sites) : i;
  if (kind !== 'random') return order;
  let seed = 0x9e3779b9; // xorshift32, fixed seed: every run shuffles alike
  const nextRandom = (): number => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(nextRandom() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

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
  gcMs: number;
  gcCount: number;
  /** The worst of the agents processes (since the previous `cpu`). */
  loopP99Ms: number;
  loopMaxMs: number;
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

  // Every site's Asterisk with the AMI user deploy/ ships (its classes and eventfilter lines, from the file).
  const amiUser = deployedAmiUser();
  const peers = await Promise.all(fed.sites.map((s) => AmiPeer.start({ systemName: s.id, record: false, users: { [amiUser.name]: amiUser.user } })));
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
    writeFileSync(file, JSON.stringify({ natsUrl: nats.url, amiUser: amiUser.name, amiSecret: amiUser.user.secret, coalesceMs: COALESCE_MS, amiFilter: AMI_FILTER, recheckMs: RECHECK_MS, agents: mine, trace: TRACE } satisfies PresenceAgentsInput));
    return file;
  });

  // Deliveries: `<watcher>|<device>|<state>` -> when the owner's Asterisk changed it; measured only in the window.
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  // Trace mode: each delivery (key as `sent`) with its start and arrival on the clock every process shares.
  const delivered: { key: string; t0: number; arrived: number }[] = [];
  let measuring = false;
  for (const [i, peer] of peers.entries()) {
    const watcher = siteId(i);
    peer.onCustomDeviceState((device, state) => {
      const key = `${watcher}|${device}|${state}`;
      const t0 = sent.get(key);
      if (t0 === undefined) return;
      sent.delete(key);
      const t = performance.now();
      latencies.push(t - t0);
      if (TRACE) delivered.push({ key, t0: performance.timeOrigin + t0, arrived: performance.timeOrigin + t });
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
    const ask = (type: 'cpu' | 'stop' | 'trace' | 'profile-start' | 'profile-stop', file?: string): Promise<Record<string, unknown>> =>
      new Promise((resolve) => {
        replies.push(resolve);
        child.stdin.write(`${JSON.stringify({ type, file })}\n`);
      });
    return { isReady, ask };
  });
  const maxed = new Set<keyof AgentFigures>(['loopP99Ms', 'loopMaxMs']);
  // The figures of every agents process added up.
  const ask = async (type: 'cpu' | 'stop'): Promise<AgentFigures> => {
    const answers = await Promise.all(children.map((c) => c.ask(type)));
    const sum: AgentFigures = { userUs: 0, systemUs: 0, writes: 0, pending: 0, amiEvents: 0, held: 0, resyncs: 0, gaps: 0, gcMs: 0, gcCount: 0, loopP99Ms: 0, loopMaxMs: 0 };
    for (const a of answers) {
      for (const k of Object.keys(sum) as (keyof AgentFigures)[]) {
        const v = typeof a[k] === 'number' ? a[k] : 0;
        sum[k] = maxed.has(k) ? Math.max(sum[k], v) : sum[k] + v;
      }
    }
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

  // The generator: changes taken in ORDER over every site's extensions; each extension's next state in a cycle.
  const stateOf = new Uint8Array(SITES * EXTENSIONS);
  const order = generatorOrder(ORDER, SITES, EXTENSIONS);
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
        const k = order[next] as number;
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
  const profiler = PROFILE_DIR === undefined ? undefined : await startProfiles(children);
  const cpu0 = await ask('cpu');
  // This process's loop (every AMI peer and the generator): a stall here delays reading the Setvars, not the agents.
  const simLoop = monitorEventLoopDelay({ resolution: 5 });
  simLoop.enable();
  const natsPid = nats.pid() as number;
  const nats0 = procCpuMs(natsPid);
  const benchCpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(SECONDS, true);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = await ask('cpu');
  const benchCpu1 = process.cpuUsage(benchCpu0);
  simLoop.disable();
  if (profiler !== undefined) await profiler(PROFILE_DIR as string);
  progress(`agents: ${cpu1.writes} Setvar sent, ${cpu1.resyncs} state requests, ${cpu1.gaps} gaps seen (since start)`);
  const nats1 = procCpuMs(natsPid);
  progress(`window done (${changes} changes in ${elapsed.toFixed(1)} s); draining`);
  for (let i = 0; i < 100 && sent.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const lost = sent.size;
  if (lost > 0) progress(`lost ${lost}, e.g. ${[...sent.keys()].slice(0, 5).join(', ')}`);
  const stages = TRACE ? stageBreakdown(delivered, await Promise.all(children.map((c) => c.ask('trace')))) : undefined;

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
      // Stalls in the window: GC of the agents processes (all of them), the worst agents process's event loop delay,
      // and this process's (the AMI peers and the generator).
      agent_gc_ms_per_1k: perK(cpu1.gcMs - cpu0.gcMs),
      agent_loop_p99_ms: Math.round(cpu1.loopP99Ms * 10) / 10,
      agent_loop_max_ms: Math.round(cpu1.loopMaxMs * 10) / 10,
      sim_loop_max_ms: Math.round((simLoop.max / 1e6) * 10) / 10,
      agent_procs: children.length,
      load_avg_1m: Math.round(loadavg()[0]! * 10) / 10,
      sites: SITES,
      shared_extensions_per_site: EXTENSIONS,
      remote_lamps: lamps,
      changes,
      changes_per_s: Math.round(changes / elapsed),
      deliveries: expected,
      coalesce_ms: COALESCE_MS,
      order: ORDER,
      recheck_ms: RECHECK_MS ?? 30_000,
      ...(stages !== undefined ? { stages } : {}),
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

type Stage = 'read' | 'published' | 'received' | 'written';
/** The legs of one delivery, ms: phone -> owner agent, owner's coalescing, bus, watcher to its AMI socket, AMI to Asterisk. */
const LEGS = ['ami_in', 'coalesce', 'bus', 'watcher', 'ami_out'] as const;

/**
 * Where the time of each delivery went, per kind of delivery (the hub showing a branch's change; a branch showing the
 * hub's; a branch showing its neighbour's): the p50 and p99 of the whole and of each leg, and the mean legs of the
 * slowest 1% (what the tail is made of).
 */
function stageBreakdown(delivered: readonly { key: string; t0: number; arrived: number }[], answers: readonly Record<string, unknown>[]): Record<string, unknown> {
  const times: Record<Stage, Map<string, number>> = { read: new Map(), published: new Map(), received: new Map(), written: new Map() };
  for (const a of answers) {
    const file = a['file'] as string;
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<Stage, Record<string, number>>;
    for (const k of Object.keys(times) as Stage[]) for (const [key, t] of Object.entries(data[k])) times[k].set(key, t);
  }
  const groups = new Map<string, { total: number; legs: number[] }[]>();
  let untraced = 0;
  for (const d of delivered) {
    const [watcher, device, state] = d.key.split('|') as [string, string, string];
    const [, owner, n] = /^Custom:fedpbx-([^-]+)-(\d+)$/.exec(device) ?? [];
    const read = times.read.get(`${n}|${state}`);
    const published = times.published.get(`${n}|${state}`);
    const received = times.received.get(d.key);
    const written = times.written.get(d.key);
    if (read === undefined || published === undefined || received === undefined || written === undefined) {
      untraced += 1;
      continue;
    }
    const kind = watcher === siteId(0) ? 'hub_shows_branch' : owner === siteId(0) ? 'branch_shows_hub' : 'branch_shows_branch';
    const legs = [read - d.t0, published - read, received - published, written - received, d.arrived - written];
    groups.set(kind, [...(groups.get(kind) ?? []), { total: d.arrived - d.t0, legs }]);
  }
  const r = (x: number): number => Math.round(x * 10) / 10;
  const out: Record<string, unknown> = { untraced };
  for (const [kind, rows] of groups) {
    rows.sort((a, b) => a.total - b.total);
    const tail = rows.slice(Math.floor(rows.length * 0.99));
    const legP = (i: number, p: number): number => r(percentile(rows.map((x) => x.legs[i] as number).sort((a, b) => a - b), p));
    const summary = {
      n: rows.length,
      p50: r(percentile(rows.map((x) => x.total), 50)),
      p99: r(percentile(rows.map((x) => x.total), 99)),
      legs_p50: Object.fromEntries(LEGS.map((l, i) => [l, legP(i, 50)])),
      legs_p99: Object.fromEntries(LEGS.map((l, i) => [l, legP(i, 99)])),
      slowest_1pct_mean_legs: Object.fromEntries(LEGS.map((l, i) => [l, r(tail.reduce((m, x) => m + (x.legs[i] as number), 0) / Math.max(1, tail.length))])),
    };
    out[kind] = summary;
    progress(`${kind}: n=${summary.n} p50 ${summary.p50} p99 ${summary.p99} | legs p50 ${JSON.stringify(summary.legs_p50)} | slowest 1% mean ${JSON.stringify(summary.slowest_1pct_mean_legs)}`);
  }
  return out;
}

/** Starts a CPU profile in every agents process and in this one; the function returned stops them into `dir`. */
async function startProfiles(children: readonly { ask: (type: 'profile-start' | 'profile-stop', file?: string) => Promise<unknown> }[]): Promise<(dir: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await Promise.all(children.map((c) => c.ask('profile-start')));
  await session.post('Profiler.start');
  return async (dir) => {
    mkdirSync(dir, { recursive: true });
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, 'bench.cpuprofile'), JSON.stringify(profile));
    await Promise.all(children.map((c, i) => c.ask('profile-stop', join(dir, `agents-${i}.cpuprofile`))));
    session.disconnect();
  };
}
