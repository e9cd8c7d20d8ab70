// bench:presence, the agents' side: one process holding every site's presence parts (LocalPresence + RemoteLamps,
// each with its own AMI connection to its site's AMI peer and its own NATS connection with its own credentials), as
// 200 agents would run them. Driven over stdin/stdout by presence-bench.ts: JSON lines.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { SiteConfig } from '@fedpbx/contracts';
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
}

const input = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as PresenceAgentsInput;
const log = pino({ level: 'warn' }, process.stderr);
const metrics = new AgentMetrics(false);
/** Events the agents' AMI clients handed to their listeners (what Asterisk sent them, list items aside). */
let amiEvents = 0;
const parts = input.agents.map((spec) => {
  const link = new NatsLink({ siteId: spec.siteId, servers: [input.natsUrl], credsFile: spec.credsFile, metrics, log });
  const ami = new AmiClient({ host: '127.0.0.1', port: spec.amiPort, username: input.amiUser, secret: input.amiSecret, log, keepaliveMs: 0 });
  if (!input.amiFilter) ami.addEventFilter = () => undefined;
  ami.onEvent(() => void (amiEvents += 1));
  const local = new LocalPresence({ siteId: spec.siteId, ami, bus: link, log, coalesceMs: input.coalesceMs });
  const remote = new RemoteLamps({ siteId: spec.siteId, ami, bus: link, log, ...(input.recheckMs !== undefined ? { recheckMs: input.recheckMs } : {}) });
  local.configure(spec.config);
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
  const cmd = JSON.parse(line) as { type: 'cpu' | 'stop' };
  if (cmd.type === 'cpu') {
    const u = process.cpuUsage();
    const stats = { resyncs: 0, gaps: 0, writes: 0, held: 0 };
    for (const p of parts) for (const k of ['resyncs', 'gaps', 'writes', 'held'] as const) stats[k] += (p.remote.stats as Partial<typeof stats>)[k] ?? 0;
    say({ type: 'cpu', userUs: u.user, systemUs: u.system, amiEvents, ...stats, pending: parts.reduce((n, p) => n + p.remote.pendingWrites, 0) });
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
