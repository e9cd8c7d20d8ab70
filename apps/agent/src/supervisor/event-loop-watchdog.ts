import { Worker } from 'node:worker_threads';

/**
 * Watches the agent's event loop from a worker thread, which a stalled loop cannot stop. The loop stores a
 * heartbeat (monotonic ms) in a SharedArrayBuffer every 100 ms; the worker reads it every 100 ms. When the loop
 * has been silent longer than `stallMs`, the worker writes one JSON log line synchronously (fd 1, the agent's log
 * format) and SIGKILLs the process: its sockets close at once, so Asterisk's AGI() returns and the dialplan
 * fallback takes the calls (a stalled agent would hold them in AGI() forever: Asterisk has no read timeout), and
 * the supervisor (or systemd) starts a new agent.
 */
export interface EventLoopWatchdog {
  stop(): void;
}

const BEAT_MS = 100;

// CommonJS on purpose (an eval'ed worker): no module resolution, nothing to load but node:fs and node:worker_threads.
const WORKER = `
const { writeSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const beat = new BigInt64Array(workerData.beat);
const ctl = new Int32Array(workerData.ctl);
const stallMs = BigInt(workerData.stallMs);
for (;;) {
  if (Atomics.wait(ctl, 0, 0, ${BEAT_MS}) !== 'timed-out') break; // stop() stores 1 and notifies
  const now = process.hrtime.bigint() / 1000000n;
  const silent = now - Atomics.load(beat, 0);
  if (silent > stallMs) {
    const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, name: workerData.name, silentMs: Number(silent), stallMs: Number(stallMs),
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
    stop: () => {
      clearInterval(timer);
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    },
  };
}
