import type { Server } from 'node:http';
import { importPublicKey } from '@fedpbx/signing';
import { AgiServer } from './agi/agi-server.js';
import { CallHandler } from './call/call-handler.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './logger.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';
import { compactHeap } from './state/heap.js';
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
    // With a snapshot in force, calls are served at once and a bootstrap file is only checked afterwards.
    const fromDisk = this.state.ready;
    if (!fromDisk) await this.applyBootstrap();
    compactHeap();

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
    if (fromDisk) void this.applyBootstrap();
    if (!this.state.ready) this.log.error('no snapshot: calls go to the dialplan fallback until one arrives');
    this.log.info(
      {
        agi: `${agi.host}:${agi.port}`,
        metrics: m.port,
        revision: this.state.revision,
        startMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
        uptimeMs: Math.round(process.uptime() * 1000),
        rssMb: Math.round(process.memoryUsage.rss() / 1e6),
        heapMb: Math.round(process.memoryUsage().heapUsed / 1e6),
      },
      'agent serving FastAGI',
    );
    return { agiPort: agi.port, metricsPort: m.port };
  }

  async stop(graceMs = 5000): Promise<void> {
    await this.agi?.stop(graceMs);
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
  }

  /** Last-known-good from the state dir (verified: hash and signature). */
  private async loadLocalSnapshot(): Promise<void> {
    const loaded = await this.store.loadLastKnownGood();
    for (const s of loaded?.skipped ?? []) this.log.warn(s, 'stored snapshot skipped');
    if (loaded === undefined) return;
    this.state.apply(loaded.snapshot);
    this.metrics.snapshotApplied(loaded.snapshot);
    this.log.info({ revision: loaded.snapshot.revision }, 'serving the last applied snapshot from the state dir');
  }

  /** The bootstrap file (first start, offline install, or a newer file dropped in): fully verified by the applier. */
  private async applyBootstrap(): Promise<void> {
    const file = this.config.FEDPBX_BOOTSTRAP_SNAPSHOT;
    if (file === undefined) return;
    try {
      const raw = await this.store.readExternal(file);
      const claimed = typeof raw === 'object' && raw !== null && 'revision' in raw ? raw.revision : undefined;
      if (this.state.ready && typeof claimed === 'number' && claimed <= this.state.revision) return;
      const result = await this.applier.offer(raw, `bootstrap ${file}`);
      if (!result.applied) this.log.warn(result, 'bootstrap snapshot not applied');
    } catch (error) {
      this.log.error({ file, reason: error instanceof Error ? error.message : String(error) }, 'bootstrap snapshot refused');
    }
  }
}
