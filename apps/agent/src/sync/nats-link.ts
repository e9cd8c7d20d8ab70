import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { Backoff, sleep } from './backoff.js';

/** The site alarm raised while the agent has no NATS connection (cleared once connected). */
export const NATS_UNREACHABLE_ALARM = 'nats-unreachable';

/** Where the link raises and clears its alarm (the agent's AlarmBoard). */
export interface NatsAlarmSink {
  raise(code: string, severity: 'warning' | 'critical', message: string): void;
  clear(code: string): void;
}

export interface NatsLinkOptions {
  readonly siteId: string;
  readonly servers: readonly string[];
  /** Path of the agent's credentials file; re-read on every (re)connect, so re-enrolling needs no restart. */
  readonly credsFile?: string;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly alarms?: NatsAlarmSink;
  /** A connection lost for this long raises the alarm (the client keeps reconnecting meanwhile); default 30 s. */
  readonly alarmAfterMs?: number;
  /** First and longest wait between rounds of first-connect attempts; default 500 ms and 30 s. */
  readonly retryMs?: { readonly initial: number; readonly max: number };
}

type Listener = (nc: NatsConnection) => void;

/**
 * The agent's one NATS connection. Starting it never blocks: the agent serves FastAGI with NATS down, and the
 * connection is retried forever in the background. Until the first connect succeeds, each round tries every
 * server once and, when all fail (servers down, "Authentication Timeout", refused credentials), the link waits
 * with backoff and tries again - a rejected first `connect()` must not end sync until a restart. Once connected,
 * the client reconnects by itself (its default gives up after ~20 s, and after two authorization errors in a
 * row - both switched off here), moving to another cluster node when one dies. While the agent has no
 * connection - from the first failed round, or 30 s after losing it - the site shows the `nats-unreachable` alarm.
 * Replies come back on the site's own inbox prefix, the only one its permissions allow. Users hear of each
 * (re)connect and disconnect.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private up = false;
  private closing = false;
  private refused = false;
  private readonly stopping = new AbortController();
  private alarmTimer: NodeJS.Timeout | undefined;
  private readonly onUp: Listener[] = [];
  private readonly onDown: (() => void)[] = [];
  private readonly onDenied: ((subject: string) => void)[] = [];

  constructor(private readonly opts: NatsLinkOptions) {}

  get connected(): boolean {
    return this.up;
  }

  /** The connection, once it was established the first time (it then reconnects by itself). */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** Called on the first connect and after every reconnect. */
  onConnected(listener: Listener): void {
    this.onUp.push(listener);
    if (this.up && this.nc !== undefined) listener(this.nc);
  }

  /**
   * The server refused a publish to `subject` (a permission violation: nats-server says so on the connection, never
   * as a reply, so a publisher awaiting one would otherwise only time out).
   */
  onPublishDenied(listener: (subject: string) => void): void {
    this.onDenied.push(listener);
  }

  onDisconnected(listener: () => void): void {
    this.onDown.push(listener);
  }

  start(): void {
    void this.connectForever().catch((err: unknown) => {
      // Not expected (every connect failure is retried): say so loudly rather than sync silently staying off.
      this.opts.log.error({ err }, 'NATS connection gave up; sync stays off until restart');
      this.opts.alarms?.raise(NATS_UNREACHABLE_ALARM, 'critical', `NATS connection gave up (${errorText(err)}): restart the agent`);
    });
  }

  /**
   * Drops the connection and connects again at once (new credentials file): the client reconnects with the file
   * as it is now; subscriptions and watches carry over as on any reconnect.
   */
  async reconnect(): Promise<void> {
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    await nc.reconnect();
  }

  async stop(): Promise<void> {
    this.closing = true;
    this.stopping.abort();
    clearTimeout(this.alarmTimer);
    const nc = this.nc;
    this.nc = undefined;
    this.setUp(false);
    await nc?.close().catch(() => undefined);
  }

  /** Connects once (rounds of attempts with backoff until one succeeds), then follows the connection's status. */
  private async connectForever(): Promise<void> {
    const nc = await this.firstConnect();
    if (nc === undefined) return;
    if (this.closing) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.follow(nc);
  }

  private async firstConnect(): Promise<NatsConnection | undefined> {
    const { credsFile, log, retryMs } = this.opts;
    const backoff = new Backoff(retryMs?.initial ?? 500, retryMs?.max ?? 30_000);
    while (!this.closing) {
      try {
        return await connect({
          servers: [...this.opts.servers],
          name: `fedpbx-agent-${this.opts.siteId}`,
          inboxPrefix: Subjects.inboxPrefix(this.opts.siteId),
          // One round over the servers per call: a failed round comes back here, is shown, and is retried.
          waitOnFirstConnect: false,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          // A revoked or expired user stays revoked until re-enrolled, but the agent must not stop trying.
          ignoreAuthErrorAbort: true,
          // A dead WAN is noticed in ~30 s instead of the default ~4 min.
          pingInterval: 10_000,
          maxPingOut: 3,
          // A server that accepts TCP but never answers (or a WAN black hole) must not hold a round for the default 20 s.
          timeout: 10_000,
          // Without it every request (each CDR's JetStream publish) builds two Errors with stack traces up front,
          // in case it times out: a third of the CDR publisher's CPU (bench:cdr-trickle profile at 200/s). A
          // timeout still fails with its TimeoutError; only the stack of the code that sent the request is lost.
          noAsyncTraces: true,
          ...(credsFile !== undefined ? { authenticator: credsAuthenticator(() => readFileSync(credsFile)) } : {}),
        });
      } catch (error) {
        const waitMs = backoff.next();
        const message = errorText(error);
        if (AUTH_REFUSED.test(message)) {
          if (!this.refused) log.error({ err: message }, REFUSED_MESSAGE);
          this.refused = true;
        } else if (backoff.failures === 1 || backoff.failures % 10 === 0) log.warn({ err: message, attempts: backoff.failures, retryInMs: waitMs }, 'cannot connect to NATS; calls keep routing, events queue at the site; retrying');
        this.opts.alarms?.raise(NATS_UNREACHABLE_ALARM, 'warning', `no NATS connection since the agent started (${this.opts.servers.join(', ')}): ${message}; config updates and events wait, calls keep routing`);
        await sleep(waitMs, this.stopping.signal);
      }
    }
    return undefined;
  }

  private follow(nc: NatsConnection): void {
    void this.followStatus(nc).catch((err: unknown) => this.opts.log.error({ err }, 'NATS status stream failed'));
  }

  private async followStatus(nc: NatsConnection): Promise<void> {
    const { log } = this.opts;
    log.info({ server: nc.getServer() }, 'connected to NATS');
    this.setUp(true);
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          log.warn({ server: s.server }, 'NATS disconnected; calls keep routing, events queue at the site');
          this.setUp(false);
          break;
        case 'reconnect':
          this.refused = false;
          log.info({ server: s.server }, 'NATS reconnected');
          this.setUp(true);
          break;
        case 'error':
          if (AUTH_REFUSED.test(s.error.message)) {
            // Said once per spell, not at every retry: expired or revoked credentials stay refused until re-enrolled.
            if (!this.refused) log.error({ err: s.error.message }, REFUSED_MESSAGE);
            this.refused = true;
          } else log.warn({ err: s.error.message }, 'NATS error');
          if (s.error instanceof PermissionViolationError && s.error.operation === 'publish') for (const l of this.onDenied) l(s.error.subject);
          break;
        case 'staleConnection':
          log.warn('NATS connection stale (no PONG); reconnecting');
          break;
        case 'close':
        case 'forceReconnect':
        case 'ldm':
        case 'ping':
        case 'reconnecting':
        case 'slowConsumer':
        case 'update':
          break;
      }
    }
    // The status stream ends when the connection closes for good, which with unlimited reconnects only `stop()`
    // does; should the client ever close on its own, start over rather than leave sync off.
    if (this.closing || this.nc !== nc) return;
    this.nc = undefined;
    this.setUp(false);
    log.warn('NATS connection closed; connecting again');
    await this.connectForever();
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.alarmWhileDown(up);
    this.opts.metrics.connectionUp.set({ peer: 'nats' }, up ? 1 : 0);
    if (up && this.nc !== undefined) for (const l of this.onUp) l(this.nc);
    if (!up) for (const l of this.onDown) l();
  }

  /** Clears the alarm when connected; raises it when a lost connection stays lost (a quick failover to another node says nothing). */
  private alarmWhileDown(up: boolean): void {
    clearTimeout(this.alarmTimer);
    this.alarmTimer = undefined;
    if (up) {
      this.opts.alarms?.clear(NATS_UNREACHABLE_ALARM);
      return;
    }
    if (this.closing) return;
    const afterMs = this.opts.alarmAfterMs ?? 30_000;
    this.alarmTimer = setTimeout(() => {
      this.alarmTimer = undefined;
      if (!this.up && !this.closing) this.opts.alarms?.raise(NATS_UNREACHABLE_ALARM, 'warning', `NATS connection lost for more than ${Math.round(afterMs / 1000)} s (${this.opts.servers.join(', ')}): config updates and events wait, calls keep routing`);
    }, afterMs);
    this.alarmTimer.unref();
  }
}

const AUTH_REFUSED = /Authorization Violation|Authentication (Expired|Revoked)|user authentication/i;
const REFUSED_MESSAGE = 'the NATS hub refuses these credentials (expired or revoked): calls keep routing offline; re-enroll this agent with a new token (fedpbx-agent enroll)';

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
