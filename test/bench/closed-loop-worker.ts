// A worker thread of agi-bench.ts's closed loop. Says 'ready' once loaded; then, for each window it is sent (a
// server, a session count, the window's end as wall time based on performance.timeOrigin), runs that many simulated
// Asterisk channels placing calls back to back against the server until then, and answers one summary message.
import { parentPort, workerData } from 'node:worker_threads';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { AGENT_MIX } from './agent-bench-setup.js';
import { badReason, DEFAULT_MIX, mixPicker } from './call-mix.js';

export interface ClosedLoopWork {
  readonly host: string;
  readonly port: number;
  readonly sessions: number;
  readonly callTimeoutMs: number;
  /** Source addresses for this worker's calls (rotated per call); empty: the system's choice. */
  readonly sources: readonly string[];
  /** When the window closes: calls completed after it are not counted (performance.timeOrigin-based ms). */
  readonly endAt: number;
}

/** What a worker saw in its window: calls completed in it, and what CallStats needs of each. */
export interface ClosedLoopReport {
  readonly inWindow: number;
  readonly commands: number;
  readonly bad: readonly string[];
}

const port = parentPort;
if (port === null) throw new Error('closed-loop-worker.ts runs as a worker thread of agi-bench.ts');
const { mix } = workerData as { mix: 'agent' | 'default' };
const pick = mixPicker(mix === 'default' ? DEFAULT_MIX : AGENT_MIX);
const wallNow = (): number => performance.timeOrigin + performance.now();

async function runWindow(work: ClosedLoopWork): Promise<ClosedLoopReport> {
  let next = 0;
  const source = (): string | undefined => (work.sources.length === 0 ? undefined : work.sources[next++ % work.sources.length]);
  let inWindow = 0;
  let commands = 0;
  const bad: string[] = [];
  await Promise.all(
    Array.from({ length: work.sessions }, async () => {
      while (wallNow() < work.endAt) {
        const call = await placeCall({ host: work.host, port: work.port, timeoutMs: work.callTimeoutMs, localAddress: source(), ...pick().options });
        if (wallNow() > work.endAt) break;
        inWindow += 1;
        commands += call.commands.length;
        const why = badReason(call);
        if (why !== null) bad.push(why);
      }
    }),
  );
  return { inWindow, commands, bad };
}

port.on('message', (work: ClosedLoopWork) => {
  runWindow(work).then(
    (report) => port.postMessage(report),
    (error: unknown) => {
      throw error;
    },
  );
});
port.postMessage('ready');
