import type { AgentAlarm } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import { agentJetStream, envelope, eventId, publishEnvelope } from './event-envelope.js';
import type { NatsLink } from './nats-link.js';

export interface HeartbeatSource {
  readonly agentVersion: string;
  appliedRevision(): number;
  agiSessionsActive(): number;
  amiConnected(): boolean;
  /** The alarms in force (AlarmBoard.list). */
  alarms?(): AgentAlarm[];
}

/**
 * A heartbeat every `intervalMs` (10 s) while connected, and one at once on each (re)connect. Heartbeats are not
 * kept while offline: a missed one says exactly what happened. A failed publish is not retried.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: { readonly siteId: string; readonly link: NatsLink; readonly source: HeartbeatSource; readonly log: Logger; readonly intervalMs?: number },
  ) {}

  start(): void {
    this.opts.link.onConnected(() => {
      this.beat();
      this.schedule();
    });
    this.opts.link.onDisconnected(() => clearInterval(this.timer));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.beat(), this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  /** A heartbeat now (when NATS is up), e.g. because what it reports changed: AMI came or went. */
  beat(): void {
    const nc = this.opts.link.connection;
    if (nc === undefined || !this.opts.link.connected) return;
    const { source, siteId } = this.opts;
    const at = new Date();
    const env = envelope(
      siteId,
      eventId('heartbeat', siteId, String(at.getTime())),
      {
        type: 'heartbeat',
        agentVersion: source.agentVersion,
        appliedRevision: source.appliedRevision(),
        uptimeSec: Math.round(process.uptime()),
        agiSessionsActive: source.agiSessionsActive(),
        amiConnected: source.amiConnected(),
        alarms: source.alarms?.() ?? [],
      },
      at,
    );
    publishEnvelope(agentJetStream(nc), env).catch((error: unknown) => this.opts.log.debug({ err: error instanceof Error ? error.message : String(error) }, 'heartbeat not acknowledged'));
  }
}
