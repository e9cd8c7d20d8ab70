import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { AgentConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { ownTimeMeter, type OwnTimeMeter } from './own-time.js';

/**
 * `fedpbx-agent supervise`: a small process that owns the FastAGI listening socket and runs the real agent
 * (`fedpbx-agent run`) as its child, handing it the socket (its file descriptor, as fd 4). It holds no routing,
 * no NATS, no AMI, so there is little in it to stall. Why it exists: Asterisk has no read timeout on a FastAGI
 * connection, so an agent that is stopped (SIGSTOP) or hung holds every call in AGI() (dead air) - something
 * outside the agent must end it. And a restart must not refuse calls.
 *
 * - The child sends a heartbeat every 250 ms over IPC. One silent longer than FEDPBX_SUPERVISOR_HEARTBEAT_TIMEOUT_MS
 *   (default 1.5 s) is SIGKILLed: its connections close, so Asterisk's AGI() returns and the dialplan fallback
 *   takes those calls; a new child is started at once. Connections that arrive meanwhile wait in the kernel's
 *   backlog of the socket, which stays open here, and the new child serves them (it boots from the state dir).
 * - Beside the serving child a standby child waits, prepared (snapshot loaded from the state dir and compiled,
 *   not listening): when the serving one dies or is killed, the standby takes over in milliseconds (it reads the
 *   state dir again for a newer snapshot, listens, takes sync and AMI), and a new standby is prepared. Starting a
 *   fresh Node process takes 0.3 s on an idle box and several seconds on a loaded one: too long for the calls
 *   waiting in the backlog. FEDPBX_SUPERVISOR_STANDBY=off saves its memory (one more agent's RSS); a dead agent is
 *   then replaced by a fresh process (with a short backoff when it keeps dying at start).
 * - SIGHUP is a planned restart: a new child (the code on disk now: the way to upgrade) starts on the same socket
 *   and serves FastAGI only; once it accepts calls, the old child stops accepting, releases sync, AMI, metrics and
 *   the state dir's files, then the new one takes them over (never two writers of the outbox, cursor or snapshot
 *   files), and the old one finishes its calls in progress (up to FEDPBX_RESTART_DRAIN_MS) and exits. No call is
 *   refused: the socket is never closed and one of the two children accepts at every moment.
 * - No agent serving for 0.5 s (the serving one died and nothing took over yet, e.g. every new one crashes at
 *   start): a pre-spawned refuser process on the same socket answers every connection `failure`, so Asterisk
 *   falls back at once instead of waiting in the backlog; it stops as soon as an agent serves again.
 * - SIGTERM / SIGINT: every child finishes its calls (5 s) and exits; then the socket closes (Asterisk's
 *   AGI() is refused from then on and the fallback runs at once).
 * With systemd socket activation (LISTEN_FDS=1, LISTEN_PID=this process) the socket from systemd is used instead.
 */
export interface SuperviseOptions {
  readonly config: AgentConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** The agent's entry point (main.js) the children run. */
  readonly main: string;
}

/**
 * No agent serving for this long (the serving one died and neither a standby nor a new one serves yet): the
 * refuser answers the queued and new connections with `failure`, so Asterisk runs the fallback at once instead of
 * waiting in the backlog (dead air) for an agent that may not come.
 */
const REFUSE_AFTER_MS = 500;
/**
 * The refuser: a tiny process (no agent code, nothing to crash at start) pre-spawned on the same socket; on
 * `refuse` it accepts and answers every connection `failure` (res_agi.c: AGISTATUS=FAILURE, the dialplan goes on).
 */
const REFUSER = `
const net = require('node:net');
let server;
process.on('message', (m) => {
  if (m.type !== 'refuse' || server !== undefined) return;
  server = net.createServer((s) => { s.on('error', () => s.destroy()); s.end('failure\\n'); });
  server.listen({ fd: ${4} }, () => process.send({ type: 'refusing' }));
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
`;

const CHECK_EVERY_MS = 100;
/** The child's IPC heartbeat period (agent side: `supervised-child.ts`). */
export const HEARTBEAT_EVERY_MS = 250;
/** A child's heartbeat is overdue (its silence measured) once this long has passed since its last message. */
const OVERDUE_MS = HEARTBEAT_EVERY_MS + CHECK_EVERY_MS;
/** The file descriptor the child finds the listening socket on. */
export const CHILD_LISTEN_FD = 4;

export type ChildMessage = { readonly type: 'serving' } | { readonly type: 'standby' } | { readonly type: 'beat' } | { readonly type: 'released' };
export type SupervisorMessage = { readonly type: 'io' } | { readonly type: 'activate' } | { readonly type: 'handover'; readonly drainMs: number };
export type ChildMode = 'now' | 'wait' | 'standby';

interface AgentChild {
  readonly proc: ChildProcess;
  readonly spawnedAt: number;
  lastBeat: number;
  /** Its own time from spawn until it reports in (own-time.ts). */
  readonly starting: OwnTimeMeter;
  /**
   * Its own time since a check found its heartbeat overdue (own-time.ts); undefined while it beats. /proc is read
   * only then: two files per child every 100 ms, and at each heartbeat, were most of the supervisor's CPU at rest.
   */
  readonly silence: OwnTimeMeter;
  silenceFrom: number | undefined;
  /** Since it first reported in (serving, or ready as a standby): from then on it must heartbeat. */
  beatingSince: number | undefined;
  servingSince: number | undefined;
  ioSent: boolean;
  killed: boolean;
}

interface Listener {
  readonly fd: number;
  readonly source: 'systemd' | 'supervisor';
  close(): void;
}

export function runSupervisor(opts: SuperviseOptions): Promise<number> {
  return new Supervisor(opts).run();
}

class Supervisor {
  private readonly log: Logger;
  private listener: Listener | undefined;
  private current: AgentChild | undefined;
  /** A planned restart's new child, until it serves. */
  private incoming: AgentChild | undefined;
  /** A prepared child (snapshot loaded, not listening) that takes over at once when the current one dies. */
  private standby: AgentChild | undefined;
  private standbyDeaths = 0;
  private refuser: { proc: ChildProcess; refusing: boolean } | undefined;
  /** Last check at which an agent was serving (undefined until the first one served: the socket was not listening). */
  private lastServing: number | undefined;
  private readonly retiring = new Set<AgentChild>();
  private stopping = false;
  private quickDeaths = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private done: ((code: number) => void) | undefined;

  constructor(private readonly opts: SuperviseOptions) {
    this.log = opts.log;
  }

  run(): Promise<number> {
    this.listener = openListener(this.opts.env, this.opts.config.FEDPBX_AGI_LISTEN);
    this.log.info({ fd: this.listener.fd, source: this.listener.source, agi: `${this.opts.config.FEDPBX_AGI_LISTEN.host}:${this.opts.config.FEDPBX_AGI_LISTEN.port}` }, 'supervisor holds the FastAGI socket');
    // Judged after the poll phase (setImmediate): heartbeats that reached the pipe while this process itself
    // waited for a CPU are read first, not taken for silence.
    const monitor = setInterval(() => setImmediate(() => this.check()), CHECK_EVERY_MS);
    process.on('SIGHUP', () => this.restart());
    process.once('SIGTERM', () => this.stop('SIGTERM'));
    process.once('SIGINT', () => this.stop('SIGINT'));
    this.current = this.spawnChild('now');
    return new Promise<number>((resolve) => {
      this.done = (code) => {
        clearInterval(monitor);
        resolve(code);
      };
    });
  }

  private spawnChild(io: ChildMode): AgentChild {
    const env: NodeJS.ProcessEnv = { ...this.opts.env, FEDPBX_SUPERVISED_IO: io, FEDPBX_AGI_LISTEN_FD: String(CHILD_LISTEN_FD) };
    for (const name of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[name];
    const proc = spawn(process.execPath, [...process.execArgv, this.opts.main, 'run'], {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', (this.listener as Listener).fd],
    });
    const child: AgentChild = {
      proc,
      spawnedAt: Date.now(),
      lastBeat: Date.now(),
      starting: ownTimeMeter(readFileSync, proc.pid ?? 0, HEARTBEAT_EVERY_MS + 100, CHECK_EVERY_MS),
      // No grace: it is reset once a heartbeat is overdue, when a healthy agent's loop has had its timer already.
      silence: ownTimeMeter(readFileSync, proc.pid ?? 0, 0, CHECK_EVERY_MS),
      silenceFrom: undefined,
      beatingSince: undefined,
      servingSince: undefined,
      ioSent: io !== 'wait',
      killed: false,
    };
    // From spawn to its first message this meter times the start.
    child.starting.reset(child.spawnedAt);
    proc.on('message', (m: ChildMessage) => this.onMessage(child, m));
    proc.on('error', (err) => this.log.error({ err, agentPid: proc.pid }, 'agent process error'));
    proc.once('exit', (code, signal) => this.onExit(child, code, signal));
    this.log.info({ agentPid: proc.pid, io }, 'agent started');
    return child;
  }

  private onMessage(child: AgentChild, m: ChildMessage): void {
    child.lastBeat = Date.now();
    child.silenceFrom = undefined;
    switch (m.type) {
      case 'beat':
        return;
      case 'standby':
        child.beatingSince ??= Date.now();
        if (child === this.standby) this.standbyDeaths = 0;
        return;
      case 'serving': {
        child.beatingSince ??= Date.now();
        child.servingSince = Date.now();
        this.spawnStandbyIfNone();
        if (child !== this.incoming) return;
        // The new agent accepts calls now: the old one may stop accepting.
        this.incoming = undefined;
        const old = this.current;
        this.current = child;
        if (old === undefined) {
          this.sendIo(child);
          return;
        }
        this.retiring.add(old);
        this.log.info({ oldAgentPid: old.proc.pid, newAgentPid: child.proc.pid }, 'planned restart: the new agent serves; the old one hands over');
        send(old, { type: 'handover', drainMs: this.opts.config.FEDPBX_RESTART_DRAIN_MS });
        return;
      }
      case 'released':
        if (this.current !== undefined && this.retiring.has(child)) this.sendIo(this.current);
        return;
    }
  }

  /** Keeps one standby ready beside a serving agent (not during a planned restart: the new code comes first). */
  private spawnStandbyIfNone(delayMs = 0): void {
    if (this.stopping || this.standby !== undefined || this.incoming !== undefined || this.opts.config.FEDPBX_SUPERVISOR_STANDBY !== 'on') return;
    if (delayMs > 0) {
      setTimeout(() => this.spawnStandbyIfNone(), delayMs).unref();
      return;
    }
    this.standby = this.spawnChild('standby');
  }

  private sendIo(child: AgentChild): void {
    if (child.ioSent) return;
    child.ioSent = true;
    send(child, { type: 'io' });
  }

  private onExit(child: AgentChild, code: number | null, signal: NodeJS.Signals | null): void {
    const pid = child.proc.pid;
    if (this.retiring.delete(child)) {
      this.log.info({ agentPid: pid, code, signal }, 'old agent exited');
      if (this.current !== undefined) this.sendIo(this.current);
    } else if (child === this.incoming) {
      this.incoming = undefined;
      this.log.error({ agentPid: pid, code, signal }, 'planned restart failed: the new agent exited before serving; the running one stays');
      this.spawnStandbyIfNone();
    } else if (child === this.standby) {
      this.standby = undefined;
      if (!this.stopping && !child.killed) {
        this.standbyDeaths += 1;
        this.log.error({ agentPid: pid, code, signal }, 'standby agent exited');
      }
      this.spawnStandbyIfNone(this.standbyDeaths === 0 ? 0 : Math.min(10_000, 200 * 2 ** Math.min(this.standbyDeaths, 6)));
    } else if (child === this.current) {
      this.current = undefined;
      if (!this.stopping) this.replaceCurrent(child, code, signal);
    }
    this.finishIfStopped();
  }

  /** The serving agent is gone: the standby takes over at once, else a new agent starts. */
  private replaceCurrent(dead: AgentChild, code: number | null, signal: NodeJS.Signals | null): void {
    const pid = dead.proc.pid;
    if (this.incoming !== undefined) {
      // A planned restart's new agent serves soon and takes over sync and the state dir then.
      this.log.error({ agentPid: pid, code, signal }, 'agent exited during a planned restart: the new agent takes over');
      return;
    }
    const standby = this.standby;
    // Only a standby that heartbeats now (one stopped with the serving agent would only delay the refuser).
    if (standby !== undefined && standby.beatingSince !== undefined && !standby.killed && Date.now() - standby.lastBeat < 3 * HEARTBEAT_EVERY_MS) {
      this.standby = undefined;
      this.current = standby;
      this.log.error({ agentPid: pid, code, signal, standbyPid: standby.proc.pid }, 'agent exited: the standby agent takes over');
      send(standby, { type: 'activate' });
      // The queued calls are the standby's to serve: the refuser waits 1.5 s for it rather than 0.5 s.
      this.lastServing = Date.now() + 1000;
      return;
    }
    const quick = dead.servingSince === undefined || Date.now() - dead.servingSince < 5000;
    // Killed because it was silent: replace it at once. Dying at start again and again: back off a little.
    this.quickDeaths = quick && !dead.killed ? this.quickDeaths + 1 : 0;
    const delay = this.quickDeaths === 0 ? 0 : Math.min(2000, 100 * 2 ** Math.min(this.quickDeaths, 5));
    this.log.error({ agentPid: pid, code, signal, restartInMs: delay }, 'agent exited: starting a new one');
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      if (!this.stopping && this.current === undefined) this.current = this.spawnChild('now');
    }, delay);
  }

  /**
   * Kills children that stopped talking (SIGSTOP, a hung process, a stalled event loop the watchdog missed). Silence
   * is measured in the child's own time since its last heartbeat (own-time.ts, as the event-loop watchdog does): a
   * child starved by a loaded host is not hung (a new one would be as starved); a stopped one is.
   */
  private check(): void {
    const now = Date.now();
    this.checkRefuser(now);
    for (const child of [this.current, this.incoming, this.standby, ...this.retiring]) {
      if (child === undefined || child.killed || child.proc.exitCode !== null || child.proc.signalCode !== null) continue;
      // Before it first reports in, `lastBeat` is its spawn time and the start meter times its start.
      const silent = now - child.lastBeat;
      let own: number;
      if (child.beatingSince === undefined) own = child.starting.ownMs(now) ?? silent;
      else if (silent <= OVERDUE_MS) continue; // beating: nothing to read
      else if (child.silenceFrom === undefined) {
        // Its heartbeat is overdue: its own time counts from now (a little later than its last beat, never sooner).
        child.silence.reset(now);
        child.silenceFrom = now;
        continue;
      } else own = child.silence.ownMs(now) ?? silent;
      const timeoutMs = child.beatingSince !== undefined ? this.opts.config.FEDPBX_SUPERVISOR_HEARTBEAT_TIMEOUT_MS : this.opts.config.FEDPBX_SUPERVISOR_START_TIMEOUT_MS;
      if (own <= timeoutMs) continue;
      child.killed = true;
      this.log.error(
        { agentPid: child.proc.pid, silentMs: silent, ownMs: Math.round(own), timeoutMs },
        child.beatingSince !== undefined ? 'agent silent (stopped or hung): killing it so that its calls fall back, and starting a new one' : 'agent did not start in time: killing it',
      );
      child.proc.kill('SIGKILL');
    }
  }

  private restart(): void {
    if (this.stopping) return;
    if (this.incoming !== undefined) {
      this.log.warn('planned restart already in progress');
      return;
    }
    this.log.info('SIGHUP: planned restart');
    if (this.current === undefined) return; // a new one is on its way already
    // The standby runs the code that was on disk when it started: a restart (an upgrade) starts fresh ones.
    const standby = this.standby;
    this.standby = undefined;
    if (standby !== undefined) {
      standby.killed = true;
      standby.proc.kill('SIGTERM');
    }
    this.incoming = this.spawnChild('wait');
  }

  private stop(signal: string): void {
    this.stopping = true;
    if (this.respawnTimer !== undefined) clearTimeout(this.respawnTimer);
    this.log.info({ signal }, 'stopping: every agent finishes its calls in progress');
    for (const child of [this.current, this.incoming, this.standby, ...this.retiring]) child?.proc.kill('SIGTERM');
    this.finishIfStopped();
    // Nothing to finish yet: the refuser goes now (it must not answer while the agents drain).
    if (this.refuser !== undefined && (this.current !== undefined || this.retiring.size > 0)) {
      this.refuser.proc.kill('SIGTERM');
    }
  }

  /** Engages the refuser while no agent serves; ends it (a fresh one is prepared) once one serves again. */
  private checkRefuser(now: number): void {
    const c = this.current;
    const serving = c !== undefined && c.servingSince !== undefined && !c.killed && c.proc.exitCode === null && c.proc.signalCode === null;
    if (serving) {
      this.lastServing = now;
      if (this.refuser?.refusing === true) {
        this.log.info('an agent serves again: the refuser stops');
        this.refuser.proc.kill('SIGTERM');
        this.refuser = undefined;
      }
    } else if (this.lastServing !== undefined && now - this.lastServing > REFUSE_AFTER_MS && this.refuser !== undefined && !this.refuser.refusing && !this.stopping) {
      this.refuser.refusing = true;
      this.log.error({ noAgentMs: now - this.lastServing }, 'no agent serving: calls are answered `failure` so that Asterisk falls back at once');
      this.refuser.proc.send({ type: 'refuse' });
    }
    if (this.refuser === undefined && !this.stopping && this.listener !== undefined) this.spawnRefuser();
  }

  private spawnRefuser(): void {
    const proc = spawn(process.execPath, ['-e', REFUSER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', (this.listener as Listener).fd] });
    const refuser = { proc, refusing: false };
    this.refuser = refuser;
    proc.on('error', (err) => this.log.error({ err }, 'refuser process error'));
    proc.once('exit', () => {
      if (this.refuser === refuser) this.refuser = undefined; // a new one at the next check
      this.finishIfStopped();
    });
  }

  private finishIfStopped(): void {
    if (!this.stopping || this.current !== undefined || this.incoming !== undefined || this.standby !== undefined || this.retiring.size > 0) return;
    if (this.refuser !== undefined) {
      this.refuser.proc.kill('SIGTERM');
      return; // its exit comes back here
    }
    this.listener?.close();
    this.log.info('stopped');
    this.done?.(0);
  }
}

function send(child: AgentChild, message: SupervisorMessage): void {
  if (child.proc.connected) child.proc.send(message);
}

/**
 * The listening socket: systemd's (socket activation), or bound here. Bound only, not listening: the children call
 * listen() on it (as Node's cluster module does with its shared handles), so this process never accepts a
 * connection itself; once listening, the socket stays so while any process holds it.
 */
function openListener(env: NodeJS.ProcessEnv, address: { host: string; port: number }): Listener {
  if (env.LISTEN_PID === String(process.pid) && env.LISTEN_FDS !== undefined) {
    if (env.LISTEN_FDS !== '1') throw new Error(`LISTEN_FDS: socket activation must pass exactly one socket (the FastAGI one), got ${env.LISTEN_FDS}`);
    return { fd: 3, source: 'systemd', close: () => undefined };
  }
  // Node's own cluster module binds shared server handles this way; there is no public API that binds without
  // listening (a listening net.Server here would accept connections and take calls from the children).
  const create = (net as unknown as { _createServerHandle?: (host: string, port: number, addressType: number) => ServerHandle | number })._createServerHandle;
  if (typeof create !== 'function') throw new Error('this Node.js has no net._createServerHandle: run the agent without `supervise`');
  const handle = create(address.host, address.port, net.isIPv6(address.host) ? 6 : 4);
  if (typeof handle === 'number') {
    throw new Error(`FEDPBX_AGI_LISTEN: cannot bind ${address.host}:${address.port}: ${getSystemErrorName(handle)}`);
  }
  return { fd: handle.fd, source: 'supervisor', close: () => handle.close() };
}

interface ServerHandle {
  readonly fd: number;
  close(): void;
}

