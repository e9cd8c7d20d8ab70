import type { AgentAlarm } from '@fedpbx/contracts';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { CdrOutbox } from '../state/cdr-outbox.js';
import type { RoutingState } from '../state/routing-state.js';
import type { SnapshotApplier } from '../state/snapshot-applier.js';
import type { ActiveCalls } from '../call/active-calls.js';
import { ActiveCallsPublisher } from './active-calls-publisher.js';
import { CdrOutboxPruner } from './cdr-outbox-pruner.js';
import { CdrPublisher } from './cdr-publisher.js';
import { ConfigWatcher } from './config-watcher.js';
import { CredsRenewer } from './creds-renewer.js';
import { Heartbeat } from './heartbeat.js';
import { LiveResponder } from './live-responder.js';
import { NatsLink, type NatsAlarmSink } from './nats-link.js';
import { StatusReporter } from './status-reporter.js';

export interface SyncClientOptions {
  readonly siteId: string;
  readonly stateDir: string;
  readonly servers: readonly string[];
  readonly credsFile?: string;
  /** Fraction of the credentials' lifetime after which they are renewed (FEDPBX_NATS_CREDS_RENEW_AT). */
  readonly credsRenewAt?: number;
  /** Idle heartbeat of the config watches (FEDPBX_CONFIG_WATCH_HEARTBEAT_MS); default 2 s. */
  readonly configWatchHeartbeatMs?: number;
  readonly agentVersion: string;
  readonly state: RoutingState;
  readonly applier: SnapshotApplier;
  readonly cdrOutbox: CdrOutbox;
  /** Acknowledged outbox day files older than this are removed (FEDPBX_CDR_OUTBOX_RETENTION_DAYS; default 7). */
  readonly cdrOutboxRetentionDays?: number;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  agiSessionsActive(): number;
  amiConnected(): boolean;
  /** The alarms in force, sent with every heartbeat. */
  alarms?(): AgentAlarm[];
  /** Where the NATS link shows that it has no connection (the agent's AlarmBoard). */
  readonly alarmBoard?: NatsAlarmSink;
  /** Default 10 s. */
  readonly heartbeatMs?: number;
  /** The calls in progress, reported on core NATS for the console. */
  readonly activeCalls?: ActiveCalls;
}

/**
 * The agent's side of federation sync over NATS (ARCHITECTURE.md flows 1 and 3): config in from the site's KV
 * bucket, status and CDRs out to JetStream, live trace/health answers. Nothing here is on the call path and
 * nothing waits for NATS: `start` returns at once and every part works through outages on its own.
 */
export class SyncClient {
  readonly link: NatsLink;
  readonly status: StatusReporter;
  readonly cdrs: CdrPublisher;
  private readonly watcher: ConfigWatcher;
  private pruner: CdrOutboxPruner | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly live: LiveResponder;
  private readonly callsPublisher: ActiveCallsPublisher | undefined;
  /** Present when the agent has a credentials file (enrolled): renews it before it expires. */
  readonly renewer: CredsRenewer | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: SyncClientOptions) {
    const log = opts.log.child({ component: 'sync' });
    const { siteId, stateDir, state } = opts;
    this.link = new NatsLink({
      siteId,
      servers: opts.servers,
      ...(opts.credsFile !== undefined ? { credsFile: opts.credsFile } : {}),
      ...(opts.alarmBoard !== undefined ? { alarms: opts.alarmBoard } : {}),
      metrics: opts.metrics,
      log,
    });
    this.status = new StatusReporter({ stateDir, siteId, link: this.link, log });
    this.cdrs = new CdrPublisher({ stateDir, siteId, link: this.link, metrics: opts.metrics, log });
    this.watcher = new ConfigWatcher({ siteId, link: this.link, applier: opts.applier, state, onRefused: (r, reason) => this.status.snapshotRefused(r, reason), onValueRefused: (r, failure) => this.status.config(r, failure), metrics: opts.metrics, ...(opts.alarmBoard !== undefined ? { alarms: opts.alarmBoard } : {}), ...(opts.configWatchHeartbeatMs !== undefined ? { heartbeatMs: opts.configWatchHeartbeatMs } : {}), log });
    this.heartbeat = new Heartbeat({
      siteId,
      link: this.link,
      log,
      ...(opts.heartbeatMs !== undefined ? { intervalMs: opts.heartbeatMs } : {}),
      source: { agentVersion: opts.agentVersion, appliedRevision: () => state.revision, agiSessionsActive: opts.agiSessionsActive, amiConnected: opts.amiConnected, ...(opts.alarms !== undefined ? { alarms: opts.alarms } : {}) },
    });
    this.renewer = opts.credsFile !== undefined ? new CredsRenewer({ siteId, credsFile: opts.credsFile, link: this.link, metrics: opts.metrics, log, ...(opts.credsRenewAt !== undefined ? { renewAtFraction: opts.credsRenewAt } : {}) }) : undefined;
    this.callsPublisher = opts.activeCalls !== undefined ? new ActiveCallsPublisher({ siteId, link: this.link, calls: opts.activeCalls, log }) : undefined;
    this.live = new LiveResponder(
      {
        siteId,
        state,
        agiSessionsActive: opts.agiSessionsActive,
        amiConnected: opts.amiConnected,
        natsConnected: () => this.link.connected,
        cdrBacklog: () => this.cdrs.backlog,
      },
      log,
    );
  }

  /** Loads the durable sync state (status entries, CDR cursor) and starts every part in the background. */
  async start(): Promise<void> {
    const { state, log } = this.opts;
    await this.status.init();
    const reportApplied = (): void => {
      const s = state.snapshot;
      if (s !== undefined) this.status.snapshotApplied(s.revision, s.contentHash);
    };
    reportApplied();
    this.unsubscribe = state.onChange(reportApplied);
    this.status.start();
    try {
      await this.cdrs.init();
      this.opts.cdrOutbox.onStored((count, days, lines) => this.cdrs.stored(count, days, lines));
      this.cdrs.start();
      // After the cursor is read: an entry of a day file gone is dropped before the pruner looks.
      this.pruner = new CdrOutboxPruner({ stateDir: this.opts.stateDir, retentionDays: this.opts.cdrOutboxRetentionDays ?? 7, publisher: this.cdrs, outbox: this.opts.cdrOutbox, log });
      this.pruner.start();
    } catch (error) {
      // CDRs stay safe in the outbox; only their publishing is off until the cursor is fixed.
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'CDR publishing is off');
    }
    this.watcher.start();
    this.heartbeat.start();
    this.callsPublisher?.start();
    this.link.onConnected((nc) => this.live.attach(nc));
    this.link.start();
    this.renewer?.start();
  }

  /** Sends a heartbeat at once (when NATS is up): the controller sees AMI come and go without waiting for the next one. */
  heartbeatNow(): void {
    this.heartbeat.beat();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.renewer?.stop();
    this.heartbeat.stop();
    this.callsPublisher?.stop();
    this.live.detach();
    await this.pruner?.stop();
    await Promise.all([this.watcher.stop(), this.cdrs.stop(), this.status.stop()]);
    await this.link.stop();
  }
}
