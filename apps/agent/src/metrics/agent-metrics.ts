import { Counter, Gauge, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';
import { collectProcessMetrics, type LoopLagMonitor } from './loop-lag.js';
import type { SiteSnapshot } from '@fedpbx/contracts';

/** The agent's Prometheus metrics (names documented in README and used by deploy/grafana). */
/** The agent's default event-loop delay sampling interval (`FEDPBX_METRICS_LOOP_DELAY_MS`). */
export const DEFAULT_LOOP_DELAY_MS = 50;

export class AgentMetrics {
  readonly registry = new Registry();
  private activeSessions = 0;
  readonly agiSessionsActive: Gauge = new Gauge({
    name: 'fedpbx_agi_sessions_active',
    help: 'FastAGI sessions in progress',
    registers: [this.registry],
    collect: () => this.agiSessionsActive.set(this.activeSessions),
  });
  /** Per-call counts kept as plain numbers and added to the counters when they are read (see {@link Tally}). */
  private readonly sessionResults = new Tally(['result'] as const);
  private readonly outcomes = new Tally(['entry', 'route_kind', 'outcome'] as const);
  readonly agiSessionsTotal: Counter<'result'> = new Counter({
    name: 'fedpbx_agi_sessions_total',
    help: 'FastAGI sessions by how they ended',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => this.sessionResults.flushInto(this.agiSessionsTotal),
  });
  /** Observed once per call: typed arrays bumped, read by the registry as a prom-client histogram (bucket-histogram.ts). */
  readonly timeToFirstCommand = new BucketHistogram({
    name: 'fedpbx_agi_time_to_first_command_seconds',
    help: 'From TCP accept to the first AGI command written',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly callOutcomes: Counter<'entry' | 'route_kind' | 'outcome'> = new Counter({
    name: 'fedpbx_calls_total',
    help: 'Calls by route kind and outcome',
    labelNames: ['entry', 'route_kind', 'outcome'] as const,
    registers: [this.registry],
    collect: () => this.outcomes.flushInto(this.callOutcomes),
  });
  readonly rejectedInputs = new Counter({
    name: 'fedpbx_rejected_inputs_total',
    help: 'Inputs refused: malformed AGI, over limits, bad snapshots',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly configWatchRecreated = new Counter({
    name: 'fedpbx_config_watch_recreated_total',
    help: 'Config bucket watches re-created because they ended on their own: silent (heartbeats missed: their consumer\'s NATS node died), gap (a value lost), consumer-gone, closed',
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
  readonly cdrBacklog = new Gauge({
    name: 'fedpbx_cdr_backlog',
    help: 'CDRs stored at the site and not yet acknowledged by JetStream',
    registers: [this.registry],
  });
  readonly cdrFileRecords = new Counter({
    name: 'fedpbx_cdr_file_records_total',
    help: "Records read from Asterisk's CDR file: stored, duplicate (already stored from the live AMI event), rejected (no record), unusable",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly cdrSourceLoaded = new Gauge({
    name: 'fedpbx_cdr_source_loaded',
    help: 'Whether an Asterisk CDR backend the agent reads is running (AMI ModuleCheck: 1 loaded, 0 not)',
    labelNames: ['module'] as const,
    registers: [this.registry],
  });
  readonly natsCredsExpiry = new Gauge({
    name: 'fedpbx_nats_credentials_expiry_timestamp_seconds',
    help: 'When the agent\'s NATS credentials expire (unix seconds); past it the hub refuses the agent until it is re-enrolled',
    registers: [this.registry],
  });
  readonly linkUp = new Gauge({ name: 'fedpbx_link_up', help: 'Inter-site link health by peer site', labelNames: ['peer_site'] as const, registers: [this.registry] });
  readonly trunkUp = new Gauge({ name: 'fedpbx_trunk_up', help: 'PSTN trunk health', labelNames: ['trunk'] as const, registers: [this.registry] });

  /** The event-loop lag figures' sampler (undefined without the process metrics). */
  readonly loopLag: LoopLagMonitor | undefined;

  /**
   * `loopDelayMs`: the event-loop delay monitor's sampling interval. Each sample is a whole timer interval, so the
   * lag figures read ~this at rest and a stall of S ms as S to S + this. It samples only while the loop has work
   * (loop-lag.ts), and then each interval is a wake-up of its own: with calls flowing at 50/s, 20 ms cost ~1.2-1.7 ms
   * of CPU a second (~0.03 ms per call), 50 ms ~0.5 (bare process with 50 other wake-ups a second, schedstat). At 50
   * ms, stalls of 50 ms and more (the watchdog kills at 200) still stand out in Grafana's lag p99 panel; bench:apply
   * samples every 10 ms for its `apply_loop_delay_max_ms`.
   */
  constructor(defaultMetrics = true, loopDelayMs = DEFAULT_LOOP_DELAY_MS) {
    this.loopLag = defaultMetrics ? collectProcessMetrics(this.registry, 'fedpbx_agent_', loopDelayMs) : undefined;
    this.connectionUp.set({ peer: 'nats' }, 0);
    this.connectionUp.set({ peer: 'ami' }, 0);
  }

  snapshotApplied(s: Pick<SiteSnapshot, 'revision' | 'generatedAt'>): void {
    this.snapshotRevision.set(s.revision);
    this.generatedAtMs = Date.parse(s.generatedAt);
    this.snapshotGeneratedAt.set(this.generatedAtMs / 1000);
  }

  /** `fedpbx_agi_time_to_first_command_seconds`: one call's time from accept to its first command, in seconds. */
  observeTimeToFirstCommand(seconds: number): void {
    this.timeToFirstCommand.observe(seconds);
  }

  /** A FastAGI session began: `fedpbx_agi_sessions_active` + 1 (read when collected). */
  sessionOpened(): void {
    this.activeSessions += 1;
  }

  /** A FastAGI session is over (whatever its result): `fedpbx_agi_sessions_active` - 1. */
  sessionClosed(): void {
    this.activeSessions -= 1;
  }

  /** `fedpbx_agi_sessions_total{result}` += 1, without prom-client's per-call label hashing. */
  sessionEnded(result: string): void {
    this.sessionResults.add1(result);
  }

  /** `fedpbx_calls_total{entry,route_kind,outcome}` += 1, without prom-client's per-call label hashing. */
  callEnded(entry: string, routeKind: string, outcome: string): void {
    this.outcomes.add3(entry, routeKind, outcome);
  }

  snapshotRefused(code: string): void {
    this.rejectedInputs.inc({ reason: `snapshot-${code}` });
  }
}

/**
 * Counts per label tuple, added to a prom-client counter when it is collected (scrape, `get()`): the hot path
 * only bumps a number found through nested maps keyed by the label values (no key string, no label object).
 */
class Tally<L extends string> {
  private readonly root = new Map<string, unknown>();
  private readonly entries: { labels: Partial<Record<L, string>>; pending: number }[] = [];

  /** `names`: the counter's label names, in the order its label objects list them. */
  constructor(private readonly names: readonly L[]) {}

  add1(a: string): void {
    let entry = this.root.get(a) as { labels: Partial<Record<L, string>>; pending: number } | undefined;
    if (entry === undefined) {
      entry = { labels: this.labels(a), pending: 0 };
      this.root.set(a, entry);
      this.entries.push(entry);
    }
    entry.pending += 1;
  }

  add3(a: string, b: string, c: string): void {
    let mb = this.root.get(a) as Map<string, Map<string, { labels: Partial<Record<L, string>>; pending: number }>> | undefined;
    if (mb === undefined) {
      mb = new Map();
      this.root.set(a, mb);
    }
    let mc = mb.get(b);
    if (mc === undefined) {
      mc = new Map();
      mb.set(b, mc);
    }
    let entry = mc.get(c);
    if (entry === undefined) {
      entry = { labels: this.labels(a, b, c), pending: 0 };
      mc.set(c, entry);
      this.entries.push(entry);
    }
    entry.pending += 1;
  }

  /** The label object of a tuple seen for the first time (made here, not by a closure on every call). */
  private labels(...values: string[]): Partial<Record<L, string>> {
    const labels: Partial<Record<L, string>> = {};
    this.names.forEach((name, i) => (labels[name] = values[i]));
    return labels;
  }

  flushInto(counter: Counter<L>): void {
    for (const entry of this.entries) {
      if (entry.pending === 0) continue;
      counter.inc(entry.labels, entry.pending);
      entry.pending = 0;
    }
  }
}
