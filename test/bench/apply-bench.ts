// npm run bench:apply - what a configuration change costs the calls of a head office.
//
// The real agent (built) serves a 100,000-extension head office with its Asterisk config dir set, as deployed, and
// with a private nats-server as its controller link. From the moment it serves FastAGI, the faithful Asterisk peer
// places calls at BENCH_RATE/s (the bench:agi mix) and times each one from TCP connect to the first command (TTFC).
// Snapshots are sent as the controller sends them: format 2 (BENCH_FORMAT, 2), the site part in the site's bucket and
// the shared part in the shared bucket, the agent starting from the pair stored in its state dir as at a restart;
// BENCH_FORMAT=1 sends format 1 (one whole snapshot per revision, the agent starting from a bootstrap file);
// BENCH_FORMAT=4 the paired format (split-snapshot.ts PAIRED_FORMAT): the shared part of version 1 put once, each
// revision a site-only write (site part r requiring shared part 1), the agent starting from the stored pair.
// Phases:
//   start:  the agent writes the Asterisk include files of the snapshot it started with (pjsip for 100,000 phones);
//   quiet:  BENCH_QUIET_SECONDS with nothing to do but calls;
//   apply:  BENCH_APPLIES times, the controller puts a new revision in which one extension is renamed (the
//           extensions part changes, as with any add/move/change of a phone), until the agent has written its files.
// Per phase: calls, TTFC p50 / p99 / max; per apply: put -> routing in force (log "snapshot applied") and put ->
// include files written; the agent's RSS at its peak (sampled every 100 ms) and at the end. Over the applies (put
// to files written, read from /proc and the agent's /metrics): its CPU ms per apply, the longest event-loop delay
// (prom-client's monitor, 10 ms resolution), GC pauses and their total. One JSON line at the end; the headline is
// `apply_ttfc_max_over_quiet_p99_ms` (apply TTFC max minus quiet p99 of the same run: target <= 20 ms).
// Run: node --conditions=@fedpbx/source --import tsx test/bench/apply-bench.ts
// BENCH_RSS_TRACE=<file> writes the RSS samples (ms since serving, MB) and the phases' marks there.
// BENCH_AGENT_MAIN measures another build (e.g. a worktree of an older commit: /tmp/base/apps/agent/dist/main.js);
// BENCH_AGENT_NODE_ARGS passes Node options to the agent (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'); BENCH_WAIT_SECONDS
// bounds the wait for each of the agent's milestones (120).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Subjects, type Federation } from '@fedpbx/contracts';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { encodeSnapshotValue, pairText, signPairedSnapshot, signSplitSnapshot } from '@fedpbx/signing';
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
const FORMAT = num('BENCH_FORMAT', 2);
if (FORMAT !== 1 && FORMAT !== 2 && FORMAT !== 4) throw new Error(`BENCH_FORMAT: 1, 2 or 4, got ${FORMAT}`);
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

/**
 * A revision as the bus carries it: the site's value and, in format 2, the shared part's (the same in every revision
 * here). Compressed beforehand: gzip of 20 MB in the put would hold up this process's loop - the load generator's -
 * for ~200 ms, and the calls in flight would count it as the agent's.
 */
interface Sent {
  readonly revision: number;
  readonly siteText: string;
  readonly siteValue: Uint8Array;
  readonly sharedText?: string;
  readonly sharedValue?: Uint8Array;
}

function sent(controller: TestController, fed: Federation, revision: number): Sent {
  if (FORMAT === 1) {
    const siteText = JSON.stringify(controller.snapshot(fed, BENCH_SITE, revision));
    return { revision, siteText, siteValue: encodeSnapshotValue(siteText) };
  }
  const at = new Date('2026-11-26T09:00:00Z');
  if (FORMAT === 4) {
    // Site-only writes: the shared part of version 1 (listing revision 1's site part) pairs with every later site part.
    const pair = signPairedSnapshot(buildSiteConfig(fed, BENCH_SITE), revision, 1, 1, [{ id: BENCH_SITE, contentHash: 'self' }], controller.key, at);
    const site = { revision, siteText: pair.siteText, siteValue: encodeSnapshotValue(pair.siteText) };
    return revision === 1 ? { ...site, sharedText: pair.sharedText, sharedValue: pair.sharedValue } : site;
  }
  const { siteText, sharedText } = signSplitSnapshot(buildSiteConfig(fed, BENCH_SITE), revision, 1, controller.key, at);
  return { revision, siteText, siteValue: encodeSnapshotValue(siteText), sharedText, sharedValue: encodeSnapshotValue(sharedText) };
}

/** utime + stime of a process, in ms (from /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The agent's GC histogram and event-loop delay from its /metrics (prom-client's default metrics). */
async function agentGauges(port: number): Promise<{ gcCount: number; gcOver10ms: number; gcSeconds: number; lagMaxMs: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let gcCount = 0;
  let gcUnder10ms = 0;
  let gcSeconds = 0;
  let lagMaxMs = 0;
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ');
    if (name === undefined || value === undefined) continue;
    if (name.startsWith('fedpbx_agent_nodejs_gc_duration_seconds_count')) gcCount += Number(value);
    else if (name.startsWith('fedpbx_agent_nodejs_gc_duration_seconds_sum')) gcSeconds += Number(value);
    else if (name.startsWith('fedpbx_agent_nodejs_gc_duration_seconds_bucket') && name.includes('le="0.01"')) gcUnder10ms += Number(value);
    else if (name === 'fedpbx_agent_nodejs_eventloop_lag_max_seconds') lagMaxMs = Number(value) * 1000;
  }
  return { gcCount, gcOver10ms: gcCount - gcUnder10ms, gcSeconds, lagMaxMs };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fedpbx-apply-bench-'));
  const controller = new TestController();
  process.stderr.write('building the 100,000-extension head office and its revisions ...\n');
  const fed = benchFederation();
  const snapshots: Sent[] = [sent(controller, fed, 1)];
  for (let r = 2; r <= APPLIES + 1; r++) snapshots.push(sent(controller, revisionOf(fed, r), r));
  const first = snapshots[0] as Sent;
  const bootstrap = join(work, 'bootstrap.json');
  if (first.sharedText === undefined) writeFileSync(bootstrap, first.siteText);

  const nats = await startNatsServer();
  const ctl = await controllerSide(nats);
  // As the controller publishes: gzip-compressed (a head office's 20 MB of JSON is over the bus's payload limit).
  // The shared part goes first, as the controller puts it (only when it changed: never, here).
  const shared = FORMAT !== 1 ? await new Kvm(jetstream(ctl.nc)).create(Subjects.SHARED_BUCKET, { history: 1 }) : undefined;
  let sharedPut: string | undefined;
  const publish = async (snapshot: Sent): Promise<void> => {
    if (shared !== undefined && snapshot.sharedValue !== undefined && snapshot.sharedText !== sharedPut) {
      await shared.put(Subjects.SHARED_KEY, snapshot.sharedValue);
      sharedPut = snapshot.sharedText;
    }
    await (await ctl.bucket(BENCH_SITE)).put(Subjects.SNAPSHOT_KEY, snapshot.siteValue);
  };
  let agent: AgentProcess | undefined;
  try {
    await ctl.eventsStream();
    await publish(first);
    const stateDir = join(work, 'state');
    mkdirSync(stateDir);
    if (first.sharedText !== undefined) {
      // Format 2: the agent restarts on the pair it stored when it applied revision 1.
      mkdirSync(join(stateDir, 'snapshots'));
      writeFileSync(join(stateDir, 'snapshots', '1.json'), pairText(first.siteText, first.sharedText));
    }
    const etc = join(work, 'etc-asterisk');
    mkdirSync(etc);
    const creds = await writeAgentCreds(nats, BENCH_SITE, stateDir);
    const agentEnv = {
      ...controller.agentEnv(BENCH_SITE, stateDir, {
        ...(first.sharedText === undefined ? { FEDPBX_BOOTSTRAP_SNAPSHOT: bootstrap } : {}),
        FEDPBX_ASTERISK_CONFIG_DIR: etc,
        FEDPBX_NATS_URL: nats.url,
        FEDPBX_NATS_CREDS: creds,
        // apply_loop_delay_max_ms reads the lag monitor: sampled every 10 ms (the agent's default is 20), as in the
        // sessions before, so a stall reads S to S + 10 ms and stays comparable with their figures.
        FEDPBX_METRICS_LOOP_DELAY_MS: '10',
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
    const rssSamples: { at: number; mb: number }[] = [];
    const rssTimer = setInterval(() => {
      const mb = serving.rssMb() ?? 0;
      rssMaxMb = Math.max(rssMaxMb, mb);
      rssSamples.push({ at: Date.now(), mb });
    }, 100);
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

    const applies: { revision: number; put: number; routing: number; files: number; cpuMs: number; gc: Awaited<ReturnType<typeof agentGauges>> }[] = [];
    for (const snapshot of snapshots.slice(1)) {
      const gcBefore = await agentGauges(serving.metricsPort); // also resets the event-loop delay's maximum
      const cpuBefore = cpuMs(serving.pid);
      const put = Date.now();
      await publish(snapshot);
      const routing = await logged(serving, (e) => e.msg === 'snapshot applied' && e.revision === snapshot.revision);
      const files = await logged(serving, written(snapshot.revision));
      const cpu = cpuMs(serving.pid) - cpuBefore;
      const gcAfter = await agentGauges(serving.metricsPort);
      const gc = { gcCount: gcAfter.gcCount - gcBefore.gcCount, gcOver10ms: gcAfter.gcOver10ms - gcBefore.gcOver10ms, gcSeconds: gcAfter.gcSeconds - gcBefore.gcSeconds, lagMaxMs: gcAfter.lagMaxMs };
      applies.push({ revision: snapshot.revision, put, routing, files, cpuMs: cpu, gc });
      process.stderr.write(
        `r${snapshot.revision}: routing in force ${(routing - put).toFixed(0)} ms after the put, include files ${(files - put).toFixed(0)} ms; agent CPU ${cpu} ms (all threads), GC ${gc.gcCount} pauses (${gc.gcOver10ms} over 10 ms, ${(gc.gcSeconds * 1000).toFixed(0)} ms), event-loop delay max ${gc.lagMaxMs.toFixed(0)} ms\n`,
      );
      await new Promise((r) => setTimeout(r, 2000));
    }
    running = false;
    await loop;
    await Promise.all([...pending]);
    clearInterval(rssTimer);
    const rssEndMb = serving.rssMb() ?? 0;
    // The peak split by phase: the start (the first render) and the applies (put to files written, + 2 s).
    const rssPeak = (from: number, to: number): number => Math.round(Math.max(0, ...rssSamples.filter((s) => s.at >= from && s.at < to).map((s) => s.mb)));
    const rssStartMaxMb = rssPeak(-Infinity, quietFrom);
    const rssApplyMaxMb = Math.max(0, ...applies.map((a) => rssPeak(a.put, a.files + 2000)));
    const rssQuietMb = rssPeak(quietFrom, quietTo);
    if (process.env.BENCH_RSS_TRACE !== undefined) {
      // ms since serving, MB; and the phases' marks (what the peak is in step with).
      const marks = [`written1 ${startWritten - servingAt}`, ...applies.flatMap((a) => [`put${a.revision} ${a.put - servingAt}`, `routing${a.revision} ${a.routing - servingAt}`, `files${a.revision} ${a.files - servingAt}`])];
      writeFileSync(process.env.BENCH_RSS_TRACE, `${marks.join('\n')}\n${rssSamples.map((s) => `${s.at - servingAt} ${s.mb.toFixed(0)}`).join('\n')}\n`);
    }

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
        apply_ttfc_max_over_quiet_p99_ms: apply.max !== null && quiet.p99 !== null ? Number((apply.max - quiet.p99).toFixed(2)) : null,
        apply_loop_delay_max_ms: Math.round(Math.max(...applies.map((a) => a.gc.lagMaxMs))),
        apply_cpu_ms: median(applies.map((a) => a.cpuMs)),
        apply_gc_pauses: median(applies.map((a) => a.gc.gcCount)),
        apply_gc_over_10ms: median(applies.map((a) => a.gc.gcOver10ms)),
        apply_gc_ms: median(applies.map((a) => a.gc.gcSeconds * 1000)),
        apply_routing_ms: median(applies.map((a) => a.routing - a.put)),
        apply_files_ms: median(applies.map((a) => a.files - a.put)),
        calls_failed: calls.filter((c) => c.ttfcMs === null).length,
        rss_max_mb: Math.round(rssMaxMb),
        rss_end_mb: Math.round(rssEndMb),
        rss_start_max_mb: rssStartMaxMb,
        rss_quiet_max_mb: rssQuietMb,
        rss_apply_max_mb: rssApplyMaxMb,
        agent_errors: errors.length,
        rate: RATE,
        format: FORMAT,
        load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
        applies: APPLIES,
      }),
    );
  } finally {
    // Everything this run started ends with it, each by its PID, whatever state it is in: twice a run printed its
    // figures and then waited on an agent that did not stop (its agent ran on for 53 min).
    if (agent !== undefined) await stopAgent(agent);
    await bounded('closing the controller side', ctl.close(), STOP_WAIT_MS);
    if (!(await bounded('stopping nats-server', nats.stop(), STOP_WAIT_MS))) await nats.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

/** How long a part is given to stop before it is killed (the agent's own bound is 20 s: main.ts). */
const STOP_WAIT_MS = 30_000;

/** Whether `p` settled within `ms`; when not, says so on stderr. */
async function bounded(what: string, p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  if (!done) process.stderr.write(`${what}: not done after ${ms} ms\n`);
  return done;
}

/** SIGTERM, then SIGKILL by its PID when it has not exited in time - with its last log lines, which say where it hung. */
async function stopAgent(agent: AgentProcess): Promise<void> {
  if (await bounded(`stopping the agent (pid ${agent.pid})`, agent.stop(), STOP_WAIT_MS)) return;
  process.stderr.write(`the agent's last log lines:\n${agent.logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}\nkilling pid ${agent.pid}\n`);
  await agent.stop('SIGKILL');
}

await main();
// Nothing this run started is left (above); a handle of the load generator's (a socket, a timer) must not keep it open.
process.exit(0);
