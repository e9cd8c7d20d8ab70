import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SiteSnapshot } from '@fedpbx/contracts';

/** The agent's Prometheus metrics (names documented in README and used by deploy/grafana). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly agiSessionsActive = new Gauge({ name: 'fedpbx_agi_sessions_active', help: 'FastAGI sessions in progress', registers: [this.registry] });
  readonly agiSessionsTotal = new Counter({
    name: 'fedpbx_agi_sessions_total',
    help: 'FastAGI sessions by how they ended',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly timeToFirstCommand = new Histogram({
    name: 'fedpbx_agi_time_to_first_command_seconds',
    help: 'From TCP accept to the first AGI command written',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly callOutcomes = new Counter({
    name: 'fedpbx_calls_total',
    help: 'Calls by route kind and outcome',
    labelNames: ['entry', 'route_kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly rejectedInputs = new Counter({
    name: 'fedpbx_rejected_inputs_total',
    help: 'Inputs refused: malformed AGI, over limits, bad snapshots',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly snapshotRevision = new Gauge({ name: 'fedpbx_snapshot_revision', help: 'Revision of the snapshot in force', registers: [this.registry] });
  readonly snapshotGeneratedAt = new Gauge({
    name: 'fedpbx_snapshot_generated_timestamp_seconds',
    help: 'When the controller generated the snapshot in force (age = time() - this)',
    registers: [this.registry],
  });
  private generatedAtMs: number | undefined;
  readonly snapshotAge = new Gauge({
    name: 'fedpbx_snapshot_age_seconds',
    help: 'How old the snapshot in force is (since the controller generated it)',
    registers: [this.registry],
    collect: () => {
      if (this.generatedAtMs !== undefined) this.snapshotAge.set((Date.now() - this.generatedAtMs) / 1000);
    },
  });
  readonly connectionUp = new Gauge({
    name: 'fedpbx_connection_up',
    help: 'Connection state of the agent to NATS and AMI (1 up, 0 down)',
    labelNames: ['peer'] as const,
    registers: [this.registry],
  });
  readonly linkUp = new Gauge({ name: 'fedpbx_link_up', help: 'Inter-site link health by peer site', labelNames: ['peer_site'] as const, registers: [this.registry] });
  readonly trunkUp = new Gauge({ name: 'fedpbx_trunk_up', help: 'PSTN trunk health', labelNames: ['trunk'] as const, registers: [this.registry] });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'fedpbx_agent_' });
    this.connectionUp.set({ peer: 'nats' }, 0);
    this.connectionUp.set({ peer: 'ami' }, 0);
  }

  snapshotApplied(s: SiteSnapshot): void {
    this.snapshotRevision.set(s.revision);
    this.generatedAtMs = Date.parse(s.generatedAt);
    this.snapshotGeneratedAt.set(this.generatedAtMs / 1000);
  }

  snapshotRefused(code: string): void {
    this.rejectedInputs.inc({ reason: `snapshot-${code}` });
  }
}
