import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { runInNewContext } from 'node:vm';

/**
 * Full, compacting garbage collections - run at boot, after the snapshot is loaded and before the first call is
 * accepted. Loading a 100,000-extension snapshot leaves ~150 MB of parse garbage; collecting it here instead of
 * during the first calls keeps their latency (and the resident size) down. Two passes: the first frees the garbage
 * but compacts only some of the pages it leaves fragmented (V8's heuristics); the second moves the ~15 MB that
 * stays into few pages - old space 45 -> 17 MB committed with the 100k-extension snapshot, ~10 ms each.
 * (`--expose-gc` set at runtime, then the `gc` function taken from a fresh context: the pattern Node's v8 docs
 * describe for setFlagsFromString.)
 *
 * On an event-loop turn of its own: a WeakRef made or read in a turn keeps its target alive through every collection
 * in that turn (the language's KeepDuringJob rule), and the compile holds the extension list it built the table from
 * by a WeakRef (`CompiledSite.extensionsFrom`) - collected in the boot's own turn, a head office's 100,000 parsed
 * extensions stayed resident (bench:agi: RSS 137 -> 185 MB).
 */
export async function compactHeap(): Promise<void> {
  await nextTurn();
  limitHeapGrowth();
  const gc = fullCollection();
  gc();
  gc();
}

/**
 * A full collection of this thread's heap, to be called where a thread knows better than V8's heuristics that most
 * of what it allocated is garbage (the agent's boot; the render worker between two files). `--expose-gc` is set at
 * runtime and the `gc` function taken from a fresh context; a V8 that does not give one makes it a no-op.
 */
export function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  return (runInNewContext('gc') as (() => void) | undefined) ?? (() => {});
}

/**
 * How far the old space may grow past what the last full collection left before the next one: 50% (V8 picks up to
 * 4x on a machine with a large heap limit). The agent's live heap is small (~17 MB with 100,000 extensions) and
 * under load it promotes per-call garbage (sessions alive across two scavenges) at several MB/s: with 4x, that
 * garbage stayed resident until the old space reached ~4x the live size. A full collection of a heap this size is
 * mostly concurrent marking and costs a few ms of CPU. Measured in `npm run bench:agi` (200 sessions): RSS max
 * 157 -> 118 MB, calls/s unchanged. Read by V8 when it sets the limit at the end of each full collection, so it is
 * set before the boot compaction. An operator's own `--heap-growing-percent` on the node command line (NODE_OPTIONS
 * refuses it) is left in force: it trades resident memory for fewer full collections (bench:agi:variants compares).
 */
export function limitHeapGrowth(): void {
  if (!growthSetByOperator(process.execArgv)) setFlagsFromString('--heap-growing-percent=50');
}

/** Whether Node was started with a heap growing percent of its own (V8 accepts `-` or `_` in flag names). */
export function growthSetByOperator(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
}

/**
 * A worker started by `start` with a young generation of its own size: semi-spaces of `semiSpaceMb`. V8 flags are
 * process-wide and an operator's `--max-semi-space-size` (the agent's systemd unit sets 16 MB, for the calls' event
 * loop) overrides a Worker's `resourceLimits.maxYoungGenerationSizeMb`: so the flag is set for the worker's isolate,
 * which reads it when it is made on the worker's thread, and put back once the worker runs ('online'; or on 'error'
 * or 'exit' if it never does). An isolate made meanwhile by another thread gets the smaller size too (a smaller young
 * generation: more, shorter scavenges); the agent's own heap was configured at its start and is not affected.
 */
export function startWithSemiSpace(semiSpaceMb: number, start: () => Worker): Worker {
  const restore = (): void => setFlagsFromString(`--max-semi-space-size=${semiSpaceOfOperator(process.execArgv, process.env.NODE_OPTIONS) ?? 0}`);
  setFlagsFromString(`--max-semi-space-size=${semiSpaceMb}`);
  let worker: Worker;
  try {
    worker = start();
  } catch (error) {
    restore();
    throw error;
  }
  worker.once('online', restore);
  worker.once('error', restore);
  worker.once('exit', restore);
  return worker;
}

/** The semi-space size (MB) Node was started with, on its command line or in NODE_OPTIONS; undefined: V8's default (0). */
export function semiSpaceOfOperator(execArgv: readonly string[], nodeOptions = ''): number | undefined {
  const m = /(?:^|\s)--max[-_]semi[-_]space[-_]size(?:=|\s+)(\d+)(?=\s|$)/.exec(`${execArgv.join(' ')} ${nodeOptions}`);
  return m === null ? undefined : Number(m[1]);
}
