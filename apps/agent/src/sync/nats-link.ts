import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';

export interface NatsLinkOptions {
  readonly siteId: string;
  readonly servers: readonly string[];
  /** Path of the agent's credentials file; re-read on every (re)connect, so re-enrolling needs no restart. */
  readonly credsFile?: string;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
}

type Listener = (nc: NatsConnection) => void;

/**
 * The agent's one NATS connection. Starting it never blocks: the agent serves FastAGI with NATS down, and the
 * connection is retried forever in the background (the client's default gives up after ~20 s, and after two
 * authorization errors in a row - both switched off here). Replies come back on the site's own inbox prefix,
 * the only one its permissions allow. Users hear of each (re)connect and disconnect.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private up = false;
  private closing = false;
  private refused = false;
  private readonly onUp: Listener[] = [];
  private readonly onDown: (() => void)[] = [];

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

  onDisconnected(listener: () => void): void {
    this.onDown.push(listener);
  }

  start(): void {
    void this.connectForever().catch((err: unknown) => this.opts.log.error({ err }, 'NATS connection gave up; sync stays off until restart'));
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
    const nc = this.nc;
    this.nc = undefined;
    this.setUp(false);
    await nc?.close().catch(() => undefined);
  }

  private async connectForever(): Promise<void> {
    const { credsFile, log } = this.opts;
    const nc = await connect({
      servers: [...this.opts.servers],
      name: `fedpbx-agent-${this.opts.siteId}`,
      inboxPrefix: Subjects.inboxPrefix(this.opts.siteId),
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // A revoked or expired user stays revoked until re-enrolled, but the agent must not stop trying.
      ignoreAuthErrorAbort: true,
      // A dead WAN is noticed in ~30 s instead of the default ~4 min.
      pingInterval: 10_000,
      maxPingOut: 3,
      ...(credsFile !== undefined ? { authenticator: credsAuthenticator(() => readFileSync(credsFile)) } : {}),
    });
    if (this.closing) {
      await nc.close();
      return;
    }
    this.nc = nc;
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
          if (/Authorization Violation|Authentication (Expired|Revoked)|user authentication/i.test(s.error.message)) {
            // Said once per spell, not at every retry: expired or revoked credentials stay refused until re-enrolled.
            if (!this.refused) log.error({ err: s.error.message }, 'the NATS hub refuses these credentials (expired or revoked): calls keep routing offline; re-enroll this agent with a new token (fedpbx-agent enroll)');
            this.refused = true;
          } else log.warn({ err: s.error.message }, 'NATS error');
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
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.opts.metrics.connectionUp.set({ peer: 'nats' }, up ? 1 : 0);
    if (up && this.nc !== undefined) for (const l of this.onUp) l(this.nc);
    if (!up) for (const l of this.onDown) l();
  }
}
