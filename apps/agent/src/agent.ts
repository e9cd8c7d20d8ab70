import type { Server } from 'node:http';
import { importPublicKey } from '@fedpbx/signing';
import { AgiServer } from './agi/agi-server.js';
import { CallHandler } from './call/call-handler.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './logger.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { RoutingState } from './state/routing-state.js';
import { SnapshotApplier } from './state/snapshot-applier.js';
import { SnapshotStore } from './state/snapshot-store.js';

/**
 * Wires the agent once: local state first (so calls are served from disk with no network at all), then the
 * FastAGI listener and metrics; sync, AMI and WireGuard attach to the same state.
 */
export class Agent {
  readonly metrics = new AgentMetrics();
  readonly state = new RoutingState();
  readonly store: SnapshotStore;
  readonly applier: SnapshotApplier;
  private agi: AgiServer | undefined;
  private metricsServer: Server | undefined;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
  ) {
    const keys = [importPublicKey(config.FEDPBX_CONTROLLER_KEY_ID, config.FEDPBX_CONTROLLER_PUBLIC_KEY)];
    this.store = new SnapshotStore(config.FEDPBX_STATE_DIR, config.FEDPBX_SITE_ID, keys);
    this.applier = new SnapshotApplier(config.FEDPBX_SITE_ID, keys, this.store, this.state, this.metrics, log);
  }

  async start(): Promise<{ agiPort: number; metricsPort: number }> {
    const started = process.hrtime.bigint();
    await this.store.init();
    await this.loadLocalSnapshot();

    const handler = new CallHandler(this.state, this.metrics, this.log);
    this.agi = new AgiServer(
      {
        host: this.config.FEDPBX_AGI_LISTEN.host,
        port: this.config.FEDPBX_AGI_LISTEN.port,
        maxSessions: this.config.FEDPBX_AGI_MAX_SESSIONS,
        idleTimeoutMs: this.config.FEDPBX_AGI_IDLE_TIMEOUT_MS,
      },
      handler,
      this.metrics,
      this.log,
    );
    const agi = await this.agi.start();
    const m = await startMetricsServer(this.config.FEDPBX_METRICS_LISTEN.host, this.config.FEDPBX_METRICS_LISTEN.port, this.metrics, () => ({
      ok: this.state.ready,
      detail: { site: this.config.FEDPBX_SITE_ID, revision: this.state.revision, agiSessions: this.agi?.activeSessions ?? 0 },
    }));
    this.metricsServer = m.server;
    this.log.info(
      { agi: `${agi.host}:${agi.port}`, metrics: m.port, revision: this.state.revision, startMs: Number(process.hrtime.bigint() - started) / 1e6 },
      'agent serving FastAGI',
    );
    return { agiPort: agi.port, metricsPort: m.port };
  }

  async stop(graceMs = 5000): Promise<void> {
    await this.agi?.stop(graceMs);
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
  }

  /** Last-known-good from the state dir; on first start (or if none verifies) the bootstrap file. */
  private async loadLocalSnapshot(): Promise<void> {
    const loaded = await this.store.loadLastKnownGood();
    for (const s of loaded?.skipped ?? []) this.log.warn(s, 'stored snapshot skipped');
    if (loaded !== undefined) {
      this.state.apply(loaded.snapshot);
      this.metrics.snapshotApplied(loaded.snapshot);
      this.log.info({ revision: loaded.snapshot.revision }, 'serving the last applied snapshot from the state dir');
    }
    const bootstrap = this.config.FEDPBX_BOOTSTRAP_SNAPSHOT;
    if (bootstrap !== undefined) {
      let raw: unknown;
      try {
        raw = await this.store.readExternal(bootstrap);
      } catch (error) {
        this.log.error({ file: bootstrap, reason: error instanceof Error ? error.message : String(error) }, 'bootstrap snapshot refused');
        raw = undefined;
      }
      if (raw !== undefined) {
        const result = await this.applier.offer(raw, `bootstrap ${bootstrap}`);
        if (!result.applied && result.code !== 'stale-revision') this.log.warn(result, 'bootstrap snapshot not applied');
      }
    }
    if (!this.state.ready) this.log.error('no snapshot: calls go to the dialplan fallback until one arrives');
  }
}
