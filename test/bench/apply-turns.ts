// npm run bench:apply-turns - the CPU of every event-loop turn while the agent applies a head office's change, in one
// process: the built agent's SnapshotApplier, RoutingState and the render worker's text encoding (no FastAGI, no
// NATS), from the gzipped bus values of bench:apply's 100,000-extension head office in format 2, as after a restart
// on the stored pair (revision 1), then three changes (one extension renamed each). A tick on setImmediate reads
// the main thread's CPU (schedstat) at every turn: the largest turns are the blocks calls would wait behind, in CPU ms, which the
// machine's load inflates far less than wall time. Run with the agent's semi-space (--max-semi-space-size=16).
// BENCH_AGENT_ROOT: another checkout's built tree (apps/agent/dist, libs/signing/dist) for A/B; GAPS_FILE: where
// turns over 6 ms CPU are written with their hrtime (µs) span, to match with a --cpu-prof profile.
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
const GAPS = process.env.GAPS_FILE ?? '/dev/null';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { generateSigningKey, signSplitSnapshot } from '@fedpbx/signing';
import { BENCH_SITE, benchFederation } from './agent-bench-setup.js';
import { REPO_ROOT } from '../support/agent-process.js';
import type { Federation } from '@fedpbx/contracts';
const ROOT = resolve(process.env.BENCH_AGENT_ROOT ?? REPO_ROOT);
const { AgentMetrics } = await import(`${ROOT}/apps/agent/dist/metrics/agent-metrics.js`);
const { RoutingState } = await import(`${ROOT}/apps/agent/dist/state/routing-state.js`);
const { SnapshotApplier } = await import(`${ROOT}/apps/agent/dist/state/snapshot-applier.js`);
const { SnapshotStore } = await import(`${ROOT}/apps/agent/dist/state/snapshot-store.js`);
const { sharedUtf8 } = await import(`${ROOT}/apps/agent/dist/asterisk-config/render-in-worker.js`);
const { decodeSnapshotValueAsync } = await import(`${ROOT}/libs/signing/dist/index.js`);

const key = generateSigningKey('controller-1');
const at = new Date('2026-11-26T09:00:00Z');
const fed = benchFederation();
const rev = (r: number): Federation => {
  let done = false;
  return { ...fed, extensions: fed.extensions.map((e) => (done || e.siteId !== BENCH_SITE ? e : ((done = true), { ...e, displayName: `R ${r}` }))) };
};
const parts = [1, 2, 3, 4].map((r) => signSplitSnapshot(buildSiteConfig(r === 1 ? fed : rev(r), BENCH_SITE), r, 1, key, at));
const values = parts.map((p) => ({ site: gzipSync(p.siteText, { level: 3 }), shared: gzipSync(p.sharedText, { level: 3 }) }));
const dir = mkdtempSync(join(tmpdir(), 'stall-steps-'));
const store = new SnapshotStore(dir, BENCH_SITE, [key], 3);
await store.init();
const state = new RoutingState();
// The agent's extension reader (a worker thread) when the build has one (BENCH_EXTENSION_READER=off: read here).
const readerModule = `${ROOT}/apps/agent/dist/state/extension-reader.js`;
const reader = process.env.BENCH_EXTENSION_READER !== 'off' && existsSync(readerModule) ? (await import(readerModule)).workerExtensionReader() : undefined;
console.log(`extensions read ${reader === undefined ? 'on the event loop' : 'in a worker thread'}`);
const applier = new SnapshotApplier(BENCH_SITE, [key], store, state, new AgentMetrics(false), pino({ level: 'silent' }), reader);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));
applier.addHook(async (_s: unknown, text: string | readonly string[]) => void (await sharedUtf8(text, nextTurn)));

let gcs: { kind: number; ms: number }[] = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push({ kind: ((e as { detail?: { kind?: number } }).detail?.kind ?? 0), ms: e.duration }); }).observe({ entryTypes: ['gc'] });

/**
 * The CPU ms of the main thread so far (its schedstat): process.cpuUsage counts every thread, and with the
 * extension reader's worker busy beside the event loop a turn would be charged the worker's CPU too.
 */
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
const mainCpuMs = (): number => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;

async function measured(label: string, f: () => Promise<unknown>): Promise<void> {
  const turns: number[] = [];
  let last = mainCpuMs();
  let running = true;
  let lastT = Number(process.hrtime.bigint() / 1000n);
  const tick = () => {
    const now = mainCpuMs();
    const t = Number(process.hrtime.bigint() / 1000n);
    const c = now - last;
    turns.push(c);
    if (c > 6) appendFileSync(GAPS, JSON.stringify({ gap: t - lastT, cpu: c, from: lastT, to: t, label }) + '\n');
    lastT = t;
    last = mainCpuMs();
    if (running) setImmediate(tick);
  };
  gcs = [];
  const main0 = mainCpuMs();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  setImmediate(tick);
  await f();
  running = false;
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...turns].sort((a, b) => b - a);
  const g = [...gcs].sort((a, b) => b.ms - a.ms);
  console.log(`${label}: turns ${turns.length}, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (main thread ${(mainCpuMs() - main0).toFixed(0)}), wall ${(performance.now() - wall0).toFixed(0)} ms; largest turns (CPU ms) ${sorted.slice(0, 8).map((t) => t.toFixed(1)).join(' ')}; turns > 10 ms: ${turns.filter((t) => t > 10).length}, CPU in turns over 1 ms ${turns.filter((t) => t > 1).reduce((a, b) => a + b, 0).toFixed(0)} ms; GC ${gcs.length} (${gcs.reduce((a, b) => a + b.ms, 0).toFixed(0)} ms, max ${g.slice(0, 4).map((x) => `${x.kind}:${x.ms.toFixed(1)}`).join(' ')})`);
}

// With its value, as the config watcher offers it (the pair is then stored as the values it came in).
const watch = async (v: Uint8Array) => applier.offerText(await decodeSnapshotValueAsync(v), 'nats', v);
// As after a restart: revision 1 stored as its pair, loaded and compiled at once, then the bus's values.
const { writeFileSync, mkdirSync } = await import('node:fs');
mkdirSync(join(dir, 'snapshots'), { recursive: true });
writeFileSync(join(dir, 'snapshots', '1.json'), `${parts[0]!.siteText}\n${parts[0]!.sharedText}`);
const loaded = await store.loadLastKnownGood();
state.apply(loaded.snapshot);
if (loaded.pair !== undefined && typeof applier.resume === 'function') applier.resume(loaded.pair, loaded.text);
await applier.offerShared(await decodeSnapshotValueAsync(values[0]!.shared), 'nats', values[0]!.shared);
await watch(values[0]!.site);
for (const r of [1, 2, 3]) await measured(`r${r + 1}`, () => watch(values[r]!.site));
