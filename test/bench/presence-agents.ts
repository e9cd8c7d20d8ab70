// bench:presence, the agents' side: one process holding every site's presence parts (LocalPresence + RemoteLamps,
// each with its own AMI connection to its site's AMI peer and its own NATS connection with its own credentials), as
// 200 agents would run them. Driven over stdin/stdout by presence-bench.ts: JSON lines.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { PresenceBatch, SiteConfig } from '@fedpbx/contracts';
import { ExtensionTable } from '@fedpbx/dialplan';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { LocalPresence } from '../../apps/agent/src/presence/local-presence.js';
import { RemoteLamps } from '../../apps/agent/src/presence/remote-lamps.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';

export interface PresenceAgentSpec {
  readonly siteId: string;
  readonly amiPort: number;
  readonly credsFile: string;
  readonly config: SiteConfig;
}
export interface PresenceAgentsInput {
  readonly natsUrl: string;
  readonly amiUser: string;
  readonly amiSecret: string;
  readonly coalesceMs: number;
  /** false: the lamps' AMI event filter is not sent (A/B against the agent before it). */
  readonly amiFilter: boolean;
  /** RemoteLamps' periodic state requests (undefined: its default, 30 s). */
  readonly recheckMs: number | undefined;
  readonly agents: readonly PresenceAgentSpec[];
  /** Record when each change passes each stage (BENCH_TRACE=1): written to `<file>.trace.json` at `trace`. */
  readonly trace: boolean;
}

/** One clock for every process of the bench (ms since the Unix epoch, sub-ms): performance.now() is per process. */
const now = (): number => performance.timeOrigin + performance.now();

const input = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as PresenceAgentsInput;
const log = pino({ level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' }, process.stderr);
const metrics = new AgentMetrics(false);
/** Events the agents' AMI clients handed to their listeners (what Asterisk sent them, list items aside). */
let amiEvents = 0;
/**
 * Stage times (trace mode): the owner agent read the phone's DeviceStateChange (`<number>|<state>`), published the
 * batch carrying it (same key), a watcher received that batch (`<watcher>|<lamp device>|<state>`) and queued the
 * Setvar on its AMI socket (same key; written at the end of that tick).
 */
const stage = { read: new Map<string, number>(), published: new Map<string, number>(), received: new Map<string, number>(), written: new Map<string, number>() };
// Event loop stalls and GC pauses (every run): what a p99 tail is made of when CPU per change is small.
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const gc = { ms: 0, count: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.ms += e.duration;
    gc.count += 1;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const parts = input.agents.map((spec) => {
  const link = new NatsLink({ siteId: spec.siteId, servers: [input.natsUrl], credsFile: spec.credsFile, metrics, log });
  const ami = new AmiClient({ host: '127.0.0.1', port: spec.amiPort, username: input.amiUser, secret: input.amiSecret, log, keepaliveMs: 0 });
  if (!input.amiFilter) ami.addEventFilter = () => undefined;
  ami.onEvent((e) => {
    amiEvents += 1;
    if (input.trace && e.event === 'DeviceStateChange') stage.read.set(`${(e.headers.get('Device') ?? '').slice('PJSIP/'.length)}|${e.headers.get('State')}`, now());
  });
  const traced = input.trace
    ? {
        onPublish: (b: PresenceBatch) => {
          if (!b.full) for (const [n, st] of Object.entries(b.states)) stage.published.set(`${n}|${st}`, now());
        },
        onBatch: (b: PresenceBatch) => {
          if (!b.full) for (const [n, st] of Object.entries(b.states)) stage.received.set(`${spec.siteId}|Custom:fedpbx-${b.siteId}-${n}|${st}`, now());
        },
        onWrite: (device: string, st: string) => void stage.written.set(`${spec.siteId}|${device}|${st}`, now()),
      }
    : {};
  const local = new LocalPresence({ siteId: spec.siteId, ami, bus: link, log, coalesceMs: input.coalesceMs, ...(traced.onPublish ? { onPublish: traced.onPublish } : {}) });
  const remote = new RemoteLamps({ siteId: spec.siteId, ami, bus: link, log, ...(input.recheckMs !== undefined ? { recheckMs: input.recheckMs } : {}), ...(traced.onBatch ? { onBatch: traced.onBatch, onWrite: traced.onWrite } : {}) });
  local.configure(spec.config, ExtensionTable.of(spec.config.extensions, { siteId: spec.config.site.id }));
  remote.configure(spec.config);
  local.start();
  remote.start();
  ami.start();
  return { spec, link, ami, local, remote };
});

// One NATS connect at a time: each signs the server's nonce with its nkey (pure-JS ed25519, tens of ms), and 200 at
// once on a shared 2-core machine overrun nats-server's authentication timeout - 200 real agents sign on 200 machines.
for (const [i, p] of parts.entries()) {
  p.link.start();
  for (let t = 0; t < 400 && !p.link.connected; t++) await new Promise((r) => setTimeout(r, 25));
  if (!p.link.connected) process.stderr.write(`[presence-agents] ${p.spec.siteId} (#${i}) not connected after 10 s\n`);
}

const say = (m: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(m)}\n`);
let polls = 0;
const poll = setInterval(() => {
  if (++polls % 50 === 0) process.stderr.write(`[presence-agents] AMI ${parts.filter((p) => p.ami.connected).length}/${parts.length}, NATS ${parts.filter((p) => p.link.connected).length}/${parts.length} connected\n`);
  if (parts.every((p) => p.ami.connected && p.link.connected)) {
    clearInterval(poll);
    say({ type: 'ready' });
  }
}, 100);

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { type: 'cpu' | 'stop' | 'trace' | 'profile-start' | 'profile-stop'; file?: string };
  if (cmd.type === 'profile-start' || cmd.type === 'profile-stop') {
    void profile(cmd.type, cmd.file).then(() => say({ type: cmd.type }));
    return;
  }
  if (cmd.type === 'cpu') {
    const u = process.cpuUsage();
    const stats = { resyncs: 0, gaps: 0, writes: 0, held: 0 };
    for (const p of parts) for (const k of ['resyncs', 'gaps', 'writes', 'held'] as const) stats[k] += (p.remote.stats as Partial<typeof stats>)[k] ?? 0;
    // Loop delay since the last `cpu` (the window, asked at its start and end); GC counted since start.
    const loop = { loopP99Ms: loopDelay.percentile(99) / 1e6, loopMaxMs: loopDelay.max / 1e6 };
    loopDelay.reset();
    say({ type: 'cpu', userUs: u.user, systemUs: u.system, amiEvents, ...stats, pending: parts.reduce((n, p) => n + p.remote.pendingWrites, 0), gcMs: gc.ms, gcCount: gc.count, ...loop });
    return;
  }
  if (cmd.type === 'trace') {
    const file = `${process.argv[2] ?? ''}.trace.json`;
    writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(stage).map(([k, m]) => [k, Object.fromEntries(m)]))));
    say({ type: 'trace', file });
    return;
  }
  void (async () => {
    for (const p of parts) {
      p.local.stop();
      p.remote.stop();
    }
    await Promise.all(parts.map(async (p) => {
      await p.ami.stop();
      await p.link.stop();
    }));
    say({ type: 'stopped' });
    process.exit(0);
  })();
});

/** A CPU profile of the measuring window only (BENCH_PROFILE=<dir>): start and stop come from the bench. */
let profiler: Session | undefined;
async function profile(what: 'profile-start' | 'profile-stop', file: string | undefined): Promise<void> {
  if (what === 'profile-start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return;
  }
  if (profiler === undefined) return;
  const { profile: result } = await profiler.post('Profiler.stop');
  writeFileSync(file ?? 'presence-agents.cpuprofile', JSON.stringify(result));
  profiler.disconnect();
}
