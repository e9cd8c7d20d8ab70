// npm run bench:agent-apply - one agent's CPU per apply of a plan-wide change in snapshot format 2 (issue #20 §1),
// without NATS: the agent's own code path from the bucket values on (decode, SnapshotApplier.offerShared and
// offerText - verification, store, compile), as ConfigWatcher hands them over. bench:sync measures the same
// inside 200 (or 1,000) agents sharing two cores, where the figure is blurred by the NATS clients and the
// scheduler; this one isolates it, for A/B of the agent's apply.
//
// A generated federation of SITES sites (BENCH_EXT_PER_SITE extensions each); one site's agent applies its first
// snapshot, then WRITES plan-wide changes (a number range added at another site: the shared part changes, and
// every site part's reference to it), each as the controller publishes it: the shared part, then the site part.
// Per apply: the process's CPU time (process.cpuUsage, libuv threads included) over WRITES applies with nothing
// timed in between (the step timers' own /proc reads and cpuUsage calls cost ~0.3 ms an apply), right after the
// first snapshot (`agent_cpu_ms_per_apply`: V8 is still optimizing the apply's functions then, ~0.6 ms an apply
// of its compiler threads at 1,000 sites), then over WRITES more (`agent_cpu_ms_per_apply_warm`: the code
// optimized, as in an agent that has applied a few hundred snapshots), then, over WRITES more, the CPU spent in
// each step (decode, shared part, site part envelope, verify+assemble, store, compile).
// Per thread too (Linux /proc schedstat): the main thread, libuv's pool (the newest threads: the pool starts with
// its first job) and the rest, V8's platform threads (GC, compiler) - a step's
// CPU (process.cpuUsage) includes whatever the other threads did meanwhile, e.g. V8's concurrent GC while the
// store waits for the disk.
// Then BENCH_AFTER_IDLE applies one by one, each after an idle spell's full collections have flushed the bytecode
// they ran (`agent_cpu_ms_per_apply_after_idle`: median, and _max; see AFTER_IDLE) - the case of a real agent,
// which applies a change now and then, not 300 in a row.
// One JSON line on stdout: {"sites","agent_cpu_ms_per_apply","agent_cpu_ms_per_apply_warm",
// "agent_cpu_ms_per_apply_after_idle","steps_ms":{...},"threads_ms":{...},"threads_ms_warm":{...},...}.
// BENCH_CPU_PROFILE=<file>: a V8 CPU profile (.cpuprofile, for Chrome's DevTools or speedscope; sampled every
// 100 us) of the warm applies alone - `node --cpu-prof` would bury them under the setup's signing of every revision.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { buildSiteConfig, generateFederation, siteIdOf } from '@fedpbx/dialplan';
import { decodeSnapshotValueAsync, encodeSnapshotValue, generateSigningKey, isSizedMembers, signPairedSnapshot, signSplitSnapshot } from '@fedpbx/signing';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { SnapshotApplier, type SharedResult } from '../../apps/agent/src/state/snapshot-applier.js';
import { SnapshotStore } from '../../apps/agent/src/state/snapshot-store.js';

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
};
const SITES = envInt('SITES', 200);
const EXT_PER_SITE = envInt('BENCH_EXT_PER_SITE', 50);
const WRITES = envInt('BENCH_WRITES', 40);
/**
 * 3: the chunked shared part a format-2 site part names by hash (both put at every plan-wide write); 2: one text, as
 * a controller before it published; 4: the paired format (a plan-wide write is the shared part alone, applied with
 * the site part in force; its list of SITES site part revisions unchanged).
 */
const SHARED_FORMAT = ((f) => (f === 2 || f === 4 ? f : 3))(envInt('BENCH_SHARED_FORMAT', 3));
const CPU_PROFILE = process.env['BENCH_CPU_PROFILE'];
/**
 * Applies measured one by one after an idle spell (BENCH_AFTER_IDLE of them, default 10). A real agent applies a
 * change after minutes or hours of nothing: meanwhile V8's full collections (memory reducer, the 50% growth limit of
 * heap.ts) have aged out and flushed the bytecode of every function the last apply ran (--flush-bytecode, after
 * --bytecode-old-age=5 collections), so that apply compiles its code again - a cost of the apply. A collection
 * forced by gc() neither ages nor flushes, so before each of these applies, untimed, two full collections run with
 * --stress-flush-code (every function not on the stack flushed, as after a long idle spell), then a 200 ms pause
 * for their concurrent sweeping. BENCH_FLUSH_BYTECODE=0 runs the bench as an agent started with --no-flush-bytecode.
 */
const AFTER_IDLE = envInt('BENCH_AFTER_IDLE', 10);
const log = (msg: string): void => void process.stderr.write(`[bench:agent-apply] ${msg}\n`);
/** libuv's pool: its threads are the process's newest (started with its first job; the bench starts no others). */
const POOL_THREADS = envInt('UV_THREADPOOL_SIZE', 4);
/**
 * CPU ns of the main thread and of libuv's pool, from /proc schedstat (zeros elsewhere); V8's platform threads are
 * the rest of process.cpuUsage. The files stay open and are read again at offset 0 (a read each: this runs around
 * every store).
 */
class ThreadCpu {
  private fds: { main: number | undefined; pool: number[] } = { main: undefined, pool: [] };
  private readonly buf = Buffer.alloc(128);

  /** After the pool has started (its threads exist). */
  open(): void {
    if (!existsSync('/proc/self/task')) return;
    const tids = readdirSync('/proc/self/task').map(Number).sort((a, b) => a - b);
    const open = (tid: number): number => openSync(`/proc/self/task/${tid}/schedstat`, 'r');
    this.fds = { main: open(process.pid), pool: tids.filter((t) => t !== process.pid).slice(-POOL_THREADS).map(open) };
  }

  /** ms: main thread, libuv pool, and the rest of the process (V8's threads). */
  now(): { main: number; pool: number; v8: number } {
    const read = (fd: number | undefined): number => (fd === undefined ? 0 : Number(this.buf.toString('latin1', 0, readSync(fd, this.buf, 0, this.buf.length, 0)).split(' ')[0]) / 1e6);
    const main = read(this.fds.main);
    const pool = this.fds.pool.reduce((n, fd) => n + read(fd), 0);
    return { main, pool, v8: cpuMs() - main - pool };
  }
}
/** Runs `f` under V8's CPU profiler when BENCH_CPU_PROFILE names a file, and writes the profile there. */
async function profiled(f: () => Promise<void>): Promise<void> {
  if (CPU_PROFILE === undefined || CPU_PROFILE === '') return f();
  const session = new Session();
  session.connect();
  const post = (method: string): Promise<unknown> => new Promise((resolve, reject) => session.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await new Promise((resolve, reject) => session.post('Profiler.setSamplingInterval', { interval: 100 }, (err) => (err ? reject(err) : resolve(undefined))));
  await post('Profiler.start');
  try {
    await f();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(CPU_PROFILE, JSON.stringify(profile));
    session.disconnect();
    log(`CPU profile of the measured applies: ${CPU_PROFILE}`);
  }
}
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * The bucket values of revision 1 and of 2 x WRITES plan-wide writes after it (gzipped when large), made before the
 * clock starts - in a function of their own, so that the generated federation behind them is garbage by then.
 */
function bucketValues(key: ReturnType<typeof generateSigningKey>, siteId: string): { shared: Uint8Array; site: Uint8Array }[] {
  const fed = generateFederation({ sites: SITES, extensionsPerSite: EXT_PER_SITE, flows: 0 });
  const at = new Date('2026-12-07T06:00:00Z');
  const values: { shared: Uint8Array; site: Uint8Array }[] = [];
  /** Format 4: every site's part as listed by the shared part (a plan-wide write changes no entry). */
  const siteParts = fed.sites.map((s) => ({ id: s.id, contentHash: s.id === siteId ? 'self' : `sha256:${createHash('sha256').update(s.id).digest('hex')}` }));
  // Revision 1 applied first, then WRITES untimed twice (from start, warm), then WRITES by step.
  for (let k = 0; k <= 3 * WRITES + AFTER_IDLE; k++) {
    if (k > 0) {
      const from = 900_000 + k * 100;
      fed.numberRanges.push({ id: `nr-bench-${k}`, siteId: siteIdOf((k * 37 + 11) % SITES), from: String(from), to: String(from + 99) });
    }
    if (SHARED_FORMAT === 4) {
      const p = signPairedSnapshot(buildSiteConfig(fed, siteId), 1, 1, k + 1, siteParts, key, at);
      values.push({ shared: p.sharedValue, site: encodeSnapshotValue(p.siteText) });
      continue;
    }
    const s = signSplitSnapshot(buildSiteConfig(fed, siteId), k + 1, k + 1, key, at, SHARED_FORMAT);
    values.push({ shared: SHARED_FORMAT === 2 ? encodeSnapshotValue(s.sharedText) : s.sharedValue, site: encodeSnapshotValue(s.siteText) });
  }
  return values;
}

/**
 * A full garbage collection: the setup's ~100 MB of garbage (every revision's site view and signing) would
 * otherwise be collected during the measured applies, which an agent never carries.
 */
function collectGarbage(): void {
  collector()();
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** BENCH_FLUSH_BYTECODE=0: V8 keeps bytecode not run for a while (--no-flush-bytecode, set as the process starts). */
const FLUSH_BYTECODE = process.env['BENCH_FLUSH_BYTECODE'] !== '0';
if (!FLUSH_BYTECODE) setFlagsFromString('--no-flush-bytecode');

async function main(): Promise<void> {
  const key = generateSigningKey('bench-key');
  const siteId = siteIdOf(Math.min(7, SITES - 1));
  const values = bucketValues(key, siteId);
  log(`${SITES} sites: shared part ${values[0]?.shared.length} bytes in the bucket, site part ${values[0]?.site.length}`);

  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-bench-agent-apply-'));
  try {
    const store = new SnapshotStore(dir, siteId, [key]);
    await store.init();
    const state = new RoutingState();
    const applier = new SnapshotApplier(siteId, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }));
    // CPU per step: the store's write and the compile timed where the applier calls them.
    const steps = { decode: 0, shared: 0, site: 0, store: 0, compile: 0 };
    let timing = false;
    const timed = <A extends unknown[], R>(step: keyof typeof steps, f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      if (!timing) return f(...a);
      const c0 = cpuMs();
      try {
        return await f(...a);
      } finally {
        steps[step] += cpuMs() - c0;
      }
    };
    // The store by thread: what it costs itself (main thread, pool) apart from what V8 did meanwhile.
    const storeThreads = { main: 0, pool: 0, v8: 0 };
    const threads = new ThreadCpu();
    const timedSave = timed('store', store.save.bind(store));
    store.save = async (...a: Parameters<typeof store.save>): Promise<void> => {
      if (!timing) return timedSave(...a);
      const t0 = threads.now();
      try {
        return await timedSave(...a);
      } finally {
        const t1 = threads.now();
        for (const k of ['main', 'pool', 'v8'] as const) storeThreads[k] += t1[k] - t0[k];
      }
    };
    state.applyInSlices = timed('compile', state.applyInSlices.bind(state));
    // As ConfigWatcher hands a shared value over: a chunked one as its value, any other decoded first.
    const offerShared = async (value: Uint8Array): Promise<SharedResult> => {
      if (isSizedMembers(value)) return timed('shared', (v: Uint8Array) => applier.offerSharedValue(v, 'bench'))(value);
      const text = await timed('decode', decodeSnapshotValueAsync)(value);
      return timed('shared', (t: string) => applier.offerShared(t, 'bench', value))(text);
    };
    const applyOne = async (v: { shared: Uint8Array; site: Uint8Array }, first = false): Promise<void> => {
      const shared = await offerShared(v.shared);
      if (!shared.accepted) throw new Error(`shared part refused: ${shared.reason}`);
      if (SHARED_FORMAT === 4 && !first) {
        // The paired format: the shared part is applied with the site part in force; no site part comes.
        if (shared.applied?.applied !== true || shared.applied.unchanged) throw new Error(`shared part not applied: ${JSON.stringify(shared.applied)}`);
        return;
      }
      const siteText = await timed('decode', decodeSnapshotValueAsync)(v.site);
      const applied = await timed('site', (t: string) => applier.offerText(t, 'bench', v.site))(siteText);
      if (!applied.applied || applied.unchanged) throw new Error(`site part not applied: ${JSON.stringify(applied)}`);
    };
    await applyOne(values[0] as (typeof values)[0], true);
    collectGarbage();
    threads.open();
    /** CPU per apply (all threads, and by thread) over the applies of `from`..`to`, nothing timed in between. */
    const untimed = async (from: number, to: number, profile = false) => {
      const c0 = cpuMs();
      const t0 = threads.now();
      const w0 = performance.now();
      const run = async (): Promise<void> => {
        for (let k = from; k <= to; k++) await applyOne(values[k] as (typeof values)[0]);
      };
      await (profile ? profiled(run) : run());
      const t1 = threads.now();
      const n = to - from + 1;
      return { cpu: (cpuMs() - c0) / n, wall: (performance.now() - w0) / n, main: (t1.main - t0.main) / n, pool: (t1.pool - t0.pool) / n, v8: (t1.v8 - t0.v8) / n };
    };
    const cold = await untimed(1, WRITES);
    const warm = await untimed(WRITES + 1, 2 * WRITES, true);
    timing = true;
    for (let k = 2 * WRITES + 1; k <= 3 * WRITES; k++) await applyOne(values[k] as (typeof values)[0]);
    timing = false;
    // After an idle spell: each apply alone, after the full collections that flush the bytecode it ran.
    const gc = collector();
    const afterIdle: number[] = [];
    for (let k = 3 * WRITES + 1; k <= 3 * WRITES + AFTER_IDLE; k++) {
      setFlagsFromString('--stress-flush-code');
      gc();
      gc();
      setFlagsFromString('--no-stress-flush-code');
      // The collections' concurrent sweeping done before the clock starts (an idle agent's was, long before).
      await new Promise((resolve) => setTimeout(resolve, 200));
      const c0 = cpuMs();
      await applyOne(values[k] as (typeof values)[0]);
      afterIdle.push(cpuMs() - c0);
    }
    afterIdle.sort((a, b) => a - b);
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    // `site` includes store and compile (they run inside offerText): shown apart, and `verify` is the rest.
    const result = {
      sites: SITES,
      shared_format: SHARED_FORMAT,
      extensions_per_site: EXT_PER_SITE,
      writes: WRITES,
      agent_cpu_ms_per_apply: r2(cold.cpu),
      agent_cpu_ms_per_apply_warm: r2(warm.cpu),
      wall_ms_per_apply: r2(cold.wall),
      // Each apply after an idle spell's collections (its bytecode flushed, unless --no-flush-bytecode): median, worst.
      agent_cpu_ms_per_apply_after_idle: r2(afterIdle[afterIdle.length >> 1] ?? Number.NaN),
      agent_cpu_ms_per_apply_after_idle_max: r2(afterIdle.at(-1) ?? Number.NaN),
      flush_bytecode: FLUSH_BYTECODE,
      // The last WRITES applies, each step timed (their sum is above agent_cpu_ms_per_apply by the timers' cost).
      steps_ms: {
        decode: r2(steps.decode / WRITES),
        // Format 4 applies inside the shared offer: store and compile are shown apart from it instead.
        shared_part: r2((SHARED_FORMAT === 4 ? steps.shared - steps.store - steps.compile : steps.shared) / WRITES),
        site_part_verify: r2((SHARED_FORMAT === 4 ? 0 : steps.site - steps.store - steps.compile) / WRITES),
        store: r2(steps.store / WRITES),
        compile: r2(steps.compile / WRITES),
      },
      store_by_thread_ms: {
        main: r2(storeThreads.main / WRITES),
        libuv_pool: r2(storeThreads.pool / WRITES),
        v8_platform: r2(storeThreads.v8 / WRITES),
      },
      threads_ms: { main: r2(cold.main), libuv_pool: r2(cold.pool), v8_platform: r2(cold.v8) },
      threads_ms_warm: { main: r2(warm.main), libuv_pool: r2(warm.pool), v8_platform: r2(warm.v8) },
      load_average: loadavg().map((l) => Math.round(l * 10) / 10),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:agent-apply: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
