// A worker thread of agi-bench.ts's closed loop: says 'ready' once loaded, is sent the window's end (wall time,
// performance.timeOrigin-based), runs `sessions` simulated Asterisk channels placing calls back to back against one
// server until then, and answers one summary message.
import { parentPort, workerData } from 'node:worker_threads';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { AGENT_MIX } from './agent-bench-setup.js';
import { badReason, DEFAULT_MIX, mixPicker } from './call-mix.js';

export interface ClosedLoopWork {
  readonly host: string;
  readonly port: number;
  readonly sessions: number;
  readonly callTimeoutMs: number;
  readonly mix: 'agent' | 'default';
  /** Source addresses for this worker's calls (rotated per call); empty: the system's choice. */
  readonly sources: readonly string[];
}

/** What a worker saw in its window: calls completed in it, and what CallStats needs of each. */
export interface ClosedLoopReport {
  readonly inWindow: number;
  readonly commands: number;
  readonly bad: readonly string[];
}

const port = parentPort;
if (port === null) throw new Error('closed-loop-worker.ts runs as a worker thread of agi-bench.ts');
const work = workerData as ClosedLoopWork;
const pick = mixPicker(work.mix === 'default' ? DEFAULT_MIX : AGENT_MIX);
const wallNow = (): number => performance.timeOrigin + performance.now();
let next = 0;
const source = (): string | undefined => (work.sources.length === 0 ? undefined : work.sources[next++ % work.sources.length]);

port.postMessage('ready');
const endAt = await new Promise<number>((resolve) => port.once('message', (at: number) => resolve(at)));
let inWindow = 0;
let commands = 0;
const bad: string[] = [];
await Promise.all(
  Array.from({ length: work.sessions }, async () => {
    while (wallNow() < endAt) {
      const call = await placeCall({ host: work.host, port: work.port, timeoutMs: work.callTimeoutMs, localAddress: source(), ...pick().options });
      if (wallNow() > endAt) break;
      inWindow += 1;
      commands += call.commands.length;
      const why = badReason(call);
      if (why !== null) bad.push(why);
    }
  }),
);
port.postMessage({ inWindow, commands, bad } satisfies ClosedLoopReport);
