import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnOwned } from './owned-process.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The agent as it is installed: the built entry point (CI builds before testing). */
export const AGENT_MAIN = join(REPO_ROOT, 'apps', 'agent', 'dist', 'main.js');

export interface AgentProcess {
  readonly pid: number;
  readonly agiPort: number;
  readonly metricsPort: number;
  readonly stateDir: string;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** The "agent serving FastAGI" line. */
  readonly ready: Record<string, unknown>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  rssMb(): number | null;
  /** What the process (and, under `supervise`, its children) wrote to stderr so far. */
  stderr(): string;
  /** The pid of the agent that logged "agent serving FastAGI" last (under `supervise`: the current child). */
  agentPid(): number;
  /** Resolves with the first log line (from now on, or already logged when `past`) that `match` accepts. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number, past?: boolean): Promise<Record<string, unknown>>;
  readonly child: ChildProcess;
}

export interface StartAgentOptions {
  readonly timeoutMs?: number;
  /** Another build's entry point (a benchmark comparing builds); default {@link AGENT_MAIN}. */
  readonly main?: string;
  /** Node options before the entry point (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /**
   * `fedpbx-agent supervise` (as the systemd unit runs it): `pid` is the supervisor's, the agent is its child
   * (`agentPid()`); ready when the first child serves.
   */
  readonly supervise?: boolean;
  /** The log line that means ready; default: "agent serving FastAGI". */
  readonly ready?: (line: Record<string, unknown>) => boolean;
}

/**
 * Spawns a real agent process (`node apps/agent/dist/main.js`) with the given environment and waits until it
 * logs that it serves FastAGI (ports are chosen by the OS: FEDPBX_*_LISTEN ...:0).
 */
export async function startAgent(env: Record<string, string>, opts: StartAgentOptions = {}): Promise<AgentProcess> {
  const main = opts.main ?? AGENT_MAIN;
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const stateDir = env.FEDPBX_STATE_DIR || mkdtempSync(join(tmpdir(), 'fedpbx-agent-'));
  const child = spawnOwned(process.execPath, [...(opts.nodeArgs ?? []), main, ...(opts.supervise === true ? ['supervise'] : [])], {
    env: { PATH: process.env.PATH ?? '', FEDPBX_AGI_LISTEN: '127.0.0.1:0', FEDPBX_METRICS_LISTEN: '127.0.0.1:0', ...env, FEDPBX_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // A supervisor killed outright leaves its children (maybe stopped) behind: they go with it. (They would exit on
  // their own once they notice the supervisor is gone, but a stopped one notices nothing.)
  const killSupervisedChildren = (): void => {
    if (opts.supervise !== true) return;
    for (const line of logs.filter((l) => l.msg === 'agent started')) {
      try {
        process.kill(Number(line.agentPid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  let isReadyYet = false;
  const isReady = opts.ready ?? ((l: Record<string, unknown>) => l.msg === 'agent serving FastAGI');
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    // An agent that never got ready is ended here (the caller has nothing to stop): left running it would outlive
    // the test, and hold the caller's event loop open.
    const timer = setTimeout(() => {
      killSupervisedChildren();
      child.kill('SIGKILL');
      reject(new Error(`agent not ready in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (isReady(entry)) {
            isReadyYet = true;
            clearTimeout(timer);
            resolve(entry);
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!isReadyYet) killSupervisedChildren();
      reject(new Error(`agent exited with ${code}; stderr: ${stderr}`));
    });
  });
  const port = (hostPort: unknown): number => Number(String(hostPort).split(':').pop());
  const pid = child.pid as number;
  const waitForLog = (match: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000, past = false): Promise<Record<string, unknown>> => {
    const from = past ? 0 : logs.length;
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = (): void => {
        const hit = logs.slice(from).find(match);
        if (hit !== undefined) return resolve(hit);
        if (Date.now() > deadline) return reject(new Error(`no such log line in ${timeoutMs} ms; last: ${JSON.stringify(logs.slice(-5))}`));
        setTimeout(poll, 10);
      };
      poll();
    });
  };
  return {
    pid,
    agiPort: port(ready.agi),
    metricsPort: Number(ready.metrics),
    stateDir,
    logs,
    ready,
    child,
    stderr: () => stderr,
    agentPid: () => Number([...logs].reverse().find((l) => l.msg === 'agent serving FastAGI')?.pid),
    waitForLog,
    rssMb: () => {
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return kb === undefined ? null : Number(kb) / 1024;
      } catch {
        return null;
      }
    },
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (signal === 'SIGKILL') killSupervisedChildren();
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
