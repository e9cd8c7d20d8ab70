import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { OWN_TIME_METER, ownTimeMeter } from './own-time.js';

/**
 * Watches the agent's event loop from a worker thread, which a stalled loop cannot stop. The loop stores a
 * heartbeat (monotonic ms) in a SharedArrayBuffer every 100 ms; the worker reads it every 100 ms. When the loop
 * has had `stallMs` of its own time without coming back, the worker writes one JSON log line synchronously (fd 1,
 * the agent's log format) and SIGKILLs the process: its sockets close at once, so Asterisk's AGI() returns and the
 * dialplan fallback takes the calls (a stalled agent would hold them in AGI() forever: Asterisk has no read
 * timeout), and the supervisor (or systemd) starts a new agent.
 *
 * "Its own time" (own-time.ts): the main thread's CPU time since the last heartbeat, plus the time it was seen
 * asleep in the kernel past its next timer (a synchronous call that blocks). Time it spends runnable but waiting
 * for a CPU does not count. So a loop stuck in our code - burning CPU in a handler, or blocked in a synchronous
 * call - is killed; a healthy loop on a box so loaded that it waits seconds for a CPU is starved, not stuck, and
 * left alone (killing it was a false alarm: a new agent would be as starved, and the calls would fall back for
 * nothing). The price: on a loaded box a loop stuck burning CPU is killed once it has had `stallMs` of CPU, later
 * in wall time. Where /proc cannot tell (not Linux) wall time is all there is.
 */
export interface EventLoopWatchdog {
  /** What the stall is measured in: the loop's own time, or wall time where /proc does not tell it. */
  readonly measures: 'own time' | 'wall time';
  stop(): void;
}

const BEAT_MS = 100;

// CommonJS on purpose (an eval'ed worker): no module resolution, nothing to load but node:fs and node:worker_threads.
// OWN_TIME_METER is own-time.ts's meter, as source: the supervisor judges its agents' silence with the same one.
const WORKER = `
const { readFileSync, writeSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const beat = new BigInt64Array(workerData.beat);
const ctl = new Int32Array(workerData.ctl);
const stallMs = workerData.stallMs;
const ms = () => Number(process.hrtime.bigint() / 1000000n);
const ownTimeMeter = ${OWN_TIME_METER};
// Measured from the first check that finds no new heartbeat (not from when the last one was written: a worker
// starved itself sees it late, and measures a little less, never more). While the loop beats, /proc is not read:
// two files every 100 ms were most of an idle agent's CPU (bench:cdr-trickle, agent at rest).
const meter = ownTimeMeter(readFileSync, process.pid, ${BEAT_MS * 1.5});
let seen = Atomics.load(beat, 0);
let measuring = false;
for (;;) {
  if (Atomics.wait(ctl, 0, 0, ${BEAT_MS}) !== 'timed-out') break; // stop() stores 1 and notifies
  const now = ms();
  const last = Atomics.load(beat, 0);
  if (last !== seen) {
    seen = last;
    measuring = false;
    continue;
  }
  if (!measuring) {
    meter.reset(now);
    measuring = true;
    continue;
  }
  const own = meter.ownMs(now);
  const ownMs = own === undefined ? now - Number(last) : own;
  if (ownMs > stallMs) {
    const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, name: workerData.name, silentMs: now - Number(last), ownMs: Math.round(ownMs), stallMs,
      msg: 'event loop stalled longer than FEDPBX_EVENT_LOOP_STALL_MS: killing the agent so that Asterisk falls back at once' });
    try { writeSync(1, line + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }
}
`;

export function startEventLoopWatchdog(stallMs: number, onError: (error: Error) => void, name = 'fedpbx-agent'): EventLoopWatchdog {
  const beat = new BigInt64Array(new SharedArrayBuffer(8));
  const ctl = new Int32Array(new SharedArrayBuffer(4));
  const store = (): void => {
    Atomics.store(beat, 0, process.hrtime.bigint() / 1_000_000n);
  };
  store();
  const timer = setInterval(store, BEAT_MS);
  timer.unref();
  const worker = new Worker(WORKER, { eval: true, workerData: { beat: beat.buffer, ctl: ctl.buffer, stallMs, name }, stdout: false, stderr: false });
  worker.on('error', onError);
  worker.unref();
  return {
    measures: ownTimeMeter(readFileSync, process.pid, 0).readable() ? 'own time' : 'wall time',
    stop: () => {
      clearInterval(timer);
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    },
  };
}
