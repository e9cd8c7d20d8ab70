// npm run bench:apply - what a configuration change costs the calls of a head office.
//
// The real agent (built) serves a 100,000-extension head office with its Asterisk config dir set, as deployed, and
// with a private nats-server as its controller link. From the moment it serves FastAGI, the faithful Asterisk peer
// places calls at BENCH_RATE/s (the bench:agi mix) and times each one from TCP connect to the first command (TTFC).
// Phases:
//   start:  the agent writes the Asterisk include files of the snapshot it started with (pjsip for 100,000 phones);
//   quiet:  BENCH_QUIET_SECONDS with nothing to do but calls;
//   apply:  BENCH_APPLIES times, the controller puts a new revision in which one extension is renamed (the
//           extensions part changes, as with any add/move/change of a phone), until the agent has written its files.
// Per phase: calls, TTFC p50 / p99 / max; per apply: put -> routing in force (log "snapshot applied") and put ->
// include files written; the agent's RSS at its peak (sampled every 100 ms) and at the end. One JSON line at the end.
// Run: node --conditions=@fedpbx/source --import tsx test/bench/apply-bench.ts
// BENCH_AGENT_MAIN measures another build (e.g. a worktree of an older commit: /tmp/base/apps/agent/dist/main.js);
// BENCH_AGENT_NODE_ARGS passes Node options to the agent (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'); BENCH_WAIT_SECONDS
// bounds the wait for each of the agent's milestones (120).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Subjects, type Federation, type SiteSnapshot } from '@fedpbx/contracts';
import { encodeSnapshotValue } from '@fedpbx/signing';
import { REPO_ROOT, startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { startNatsServer } from '../support/nats-server.js';
import { TestController } from '../support/signed-snapshots.js';
import { controllerSide, writeAgentCreds } from '../sync/agent-harness.js';
import { AGENT_MIX, AGENT_NODE_OPTIONS, BENCH_SITE, benchFederation } from './agent-bench-setup.js';
import { mixPicker } from './call-mix.js';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${JSON.stringify(raw)}`);
  return n;
};
const RATE = num('BENCH_RATE', 200);
const APPLIES = Math.round(num('BENCH_APPLIES', 3));
const QUIET_SECONDS = num('BENCH_QUIET_SECONDS', 3);
/** How long to wait for each of the agent's milestones (a loaded machine renders a head office slowly). */
const WAIT_MS = num('BENCH_WAIT_SECONDS', 120) * 1000;
const AGENT_MAIN = resolve(REPO_ROOT, process.env.BENCH_AGENT_MAIN ?? 'apps/agent/dist/main.js');

interface Call {
  readonly at: number;
  readonly ttfcMs: number | null;
}

/**
 * When the agent logged the first line that matches (pino's `time`, epoch ms), waiting for it if need be. Calls are
 * timed on the same clock (Date.now), at the millisecond the phases need.
 */
async function logged(agent: AgentProcess, match: (e: Record<string, unknown>) => boolean, timeoutMs = WAIT_MS): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entry = agent.logs.find(match);
    if (entry !== undefined) return Number(entry.time);
    if (Date.now() > deadline) {
      const last = agent.logs.slice(-3).map((e) => JSON.stringify(e).slice(0, 300));
      throw new Error(`no agent log line matched within ${timeoutMs} ms (BENCH_WAIT_SECONDS); the agent's last lines:\n${last.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stats(calls: readonly Call[], from: number, to: number): { calls: number; p50: number | null; p99: number | null; max: number | null; failed: number } {
  const inPhase = calls.filter((c) => c.at >= from && c.at < to);
  const t = inPhase
    .map((c) => c.ttfcMs)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const pick = (q: number): number | null => (t.length === 0 ? null : Number((t[Math.min(t.length - 1, Math.ceil(q * t.length) - 1)] as number).toFixed(2)));
  return { calls: inPhase.length, p50: pick(0.5), p99: pick(0.99), max: pick(1), failed: inPhase.length - t.length };
}

/** `revision`'s federation: one extension of the head office renamed per revision. */
function revisionOf(base: Federation, revision: number): Federation {
  let renamed = false;
  const extensions = base.extensions.map((e) => {
    if (renamed || e.siteId !== BENCH_SITE) return e;
    renamed = true;
    return { ...e, displayName: `Employee renamed r${revision}` };
  });
  return { ...base, extensions };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fedpbx-apply-bench-'));
  const controller = new TestController();
  process.stderr.write('building the 100,000-extension head office and its revisions ...\n');
  const fed = benchFederation();
  const snapshots: SiteSnapshot[] = [controller.snapshot(fed, BENCH_SITE, 1)];
  for (let r = 2; r <= APPLIES + 1; r++) snapshots.push(controller.snapshot(revisionOf(fed, r), BENCH_SITE, r));
  const bootstrap = join(work, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify(snapshots[0]));

  const nats = await startNatsServer();
  const ctl = await controllerSide(nats);
  // As the controller publishes: gzip-compressed (a head office's 20 MB of JSON is over the bus's payload limit).
  const publish = async (snapshot: SiteSnapshot): Promise<void> => {
    await (await ctl.bucket(BENCH_SITE)).put(Subjects.SNAPSHOT_KEY, encodeSnapshotValue(JSON.stringify(snapshot)));
  };
  let agent: AgentProcess | undefined;
  try {
    await ctl.eventsStream();
    await publish(snapshots[0] as SiteSnapshot);
    const stateDir = join(work, 'state');
    mkdirSync(stateDir);
    const etc = join(work, 'etc-asterisk');
    mkdirSync(etc);
    const creds = await writeAgentCreds(nats, BENCH_SITE, stateDir);
    const agentEnv = {
      ...controller.agentEnv(BENCH_SITE, stateDir, {
        FEDPBX_BOOTSTRAP_SNAPSHOT: bootstrap,
        FEDPBX_ASTERISK_CONFIG_DIR: etc,
        FEDPBX_NATS_URL: nats.url,
        FEDPBX_NATS_CREDS: creds,
      }),
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: AGENT_NODE_OPTIONS,
      NODE_ENV: 'production',
    };
    process.stderr.write(`agent: ${AGENT_MAIN}\n`);
    const started = Date.now();
    agent = await startAgent(agentEnv, { main: AGENT_MAIN, nodeArgs: (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), timeoutMs: 60_000 });
    const serving = agent;
    const servingAt = Number(serving.ready.time);
    // VmRSS of the agent process (worker threads included) every 100 ms: the peak of an apply, and what stays.
    let rssMaxMb = 0;
    const rssTimer = setInterval(() => (rssMaxMb = Math.max(rssMaxMb, serving.rssMb() ?? 0)), 100);
    process.stderr.write(`serving FastAGI ${servingAt - started} ms after spawn; calls at ${RATE}/s from now on\n`);

    // The open loop: one call every 1/RATE s, whatever completes, until stopped.
    const calls: Call[] = [];
    const pending = new Set<Promise<void>>();
    const pick = mixPicker(AGENT_MIX);
    let running = true;
    const loop = (async () => {
      const t0 = Date.now();
      let placed = 0;
      while (running) {
        const due = Math.floor(((Date.now() - t0) / 1000) * RATE) + 1;
        while (placed < due) {
          const at = Date.now();
          const { options } = pick();
          const p = placeCall({ host: '127.0.0.1', port: serving.agiPort, timeoutMs: 30_000, ...options }).then(
            (call) => void calls.push({ at, ttfcMs: call.timeToFirstCommandMs }),
            () => void calls.push({ at, ttfcMs: null }),
          );
          pending.add(p);
          void p.finally(() => pending.delete(p));
          placed += 1;
        }
        await new Promise((r) => setTimeout(r, Math.max(1, t0 + (placed / RATE) * 1000 - Date.now())));
      }
    })();

    const written = (revision: number) => (e: Record<string, unknown>) => e.msg === 'Asterisk include files written' && e.revision === revision;
    const startWritten = await logged(serving, written(1));
    process.stderr.write(`start: include files written ${(startWritten - servingAt).toFixed(0)} ms after serving\n`);
    const quietFrom = startWritten + 1000;
    await new Promise((r) => setTimeout(r, 1000 + QUIET_SECONDS * 1000));
    const quietTo = Date.now();

    const applies: { revision: number; put: number; routing: number; files: number }[] = [];
    for (const snapshot of snapshots.slice(1)) {
      const put = Date.now();
      await publish(snapshot);
      const routing = await logged(serving, (e) => e.msg === 'snapshot applied' && e.revision === snapshot.revision);
      const files = await logged(serving, written(snapshot.revision));
      applies.push({ revision: snapshot.revision, put, routing, files });
      process.stderr.write(`r${snapshot.revision}: routing in force ${(routing - put).toFixed(0)} ms after the put, include files ${(files - put).toFixed(0)} ms\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    running = false;
    await loop;
    await Promise.all([...pending]);
    clearInterval(rssTimer);
    const rssEndMb = serving.rssMb() ?? 0;

    const start = stats(calls, servingAt, startWritten);
    const quiet = stats(calls, quietFrom, quietTo);
    // An apply's calls: those placed from its put until its files were written, plus 500 ms (the queue draining).
    const during = applies.flatMap((a) => calls.filter((c) => c.at >= a.put && c.at < a.files + 500));
    const apply = stats(during, -Infinity, Infinity);
    const row = (name: string, s: ReturnType<typeof stats>): string =>
      `${name.padEnd(7)} ${String(s.calls).padStart(6)} calls  TTFC p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms${s.failed > 0 ? `  failed ${s.failed}` : ''}`;
    process.stderr.write(`${row('start', start)}\n${row('quiet', quiet)}\n${row('apply', apply)}\n`);
    const errors = serving.logs.filter((e) => typeof e.level === 'number' && e.level >= 50);
    if (errors.length > 0) process.stderr.write(`agent errors: ${JSON.stringify(errors.slice(0, 3))}\n`);
    const median = (xs: number[]): number => Number(([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number).toFixed(0));
    console.log(
      JSON.stringify({
        start_render_ms: Number((startWritten - servingAt).toFixed(0)),
        start_ttfc_p99_ms: start.p99,
        start_ttfc_max_ms: start.max,
        quiet_ttfc_p99_ms: quiet.p99,
        apply_ttfc_p99_ms: apply.p99,
        apply_ttfc_max_ms: apply.max,
        apply_routing_ms: median(applies.map((a) => a.routing - a.put)),
        apply_files_ms: median(applies.map((a) => a.files - a.put)),
        calls_failed: calls.filter((c) => c.ttfcMs === null).length,
        rss_max_mb: Math.round(rssMaxMb),
        rss_end_mb: Math.round(rssEndMb),
        agent_errors: errors.length,
        rate: RATE,
        applies: APPLIES,
      }),
    );
  } finally {
    await agent?.stop();
    await ctl.close();
    await nats.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
