import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/** How often the monitor looks whether the loop has work (and so whether to sample its delay). */
export const LOOP_LAG_CHECK_MS = 1000;
/** Busy share of a check interval from which the delay is sampled: 1%, 10 ms of work a second. */
export const LOOP_LAG_BUSY_SHARE = 0.01;

/** The event-loop lag figures' names (after the prefix), prom-client's and {@link LoopLagMonitor}'s. */
const LAG_FIGURES = ['seconds', 'min_seconds', 'max_seconds', 'mean_seconds', 'stddev_seconds', 'p50_seconds', 'p90_seconds', 'p99_seconds'];
/**
 * The resolution given to prom-client's own delay histogram, whose figures are taken out of the registry: its timer
 * then fires once in ~25 days (the largest timer interval), not every 10 ms.
 */
const UNUSED_PRECISION_MS = 2 ** 31 - 1;

/**
 * prom-client's default metrics, with the event-loop lag figures from a {@link LoopLagMonitor}. Only prom-client's
 * public API: its default set (its lag histogram idle, see {@link UNUSED_PRECISION_MS}) less the lag figures by
 * their names, which the monitor then registers (requiring each of its metric files by path broke with any change
 * of prom-client's layout).
 */
export function collectProcessMetrics(registry: Registry, prefix: string, loopDelayMs: number): LoopLagMonitor {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: UNUSED_PRECISION_MS });
  for (const name of LAG_FIGURES) registry.removeSingleMetric(`${prefix}nodejs_eventloop_lag_${name}`);
  return new LoopLagMonitor(registry, prefix, loopDelayMs);
}

/**
 * prom-client's event-loop lag figures (`<prefix>nodejs_eventloop_lag_*`, same names and meaning), sampled only
 * while the loop has work. prom-client samples the delay every `resolutionMs` for ever: at 20 ms, 50 wake-ups a
 * second, most of an idle agent's CPU (bench:cdr-trickle, agent at rest). Here the sampler (Node's
 * monitorEventLoopDelay: each sample one whole timer interval) runs while the loop was busy for at least 1% of the
 * last check (a second), and stops when it was not; at rest the loop wakes once a second.
 *
 * A stall is not missed: one that starts at rest is over before the next check turns the sampler on, so the check
 * counts it itself - the loop's busy time since the last check (event-loop utilization), over `resolutionMs`, is
 * taken as one sample of that length plus the interval (an upper bound: busy time spread over the second reads as
 * one stall) and shows in the max; and the check's own lateness too. A scrape that saw no sample (the loop at rest
 * the whole time) reads what an idle sampler reads: one interval for min, mean and the percentiles, stddev 0.
 */
export class LoopLagMonitor {
  private readonly histogram: IntervalHistogram;
  private sampling = false;
  /** Largest delay seen by the checks (ns) since the last scrape: stalls while the sampler was off. */
  private checkedMaxNs = 0;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private due: number;
  private readonly timer: NodeJS.Timeout;
  private readonly resolutionNs: number;

  constructor(
    registry: Registry,
    prefix: string,
    private readonly resolutionMs: number,
    private readonly checkMs = LOOP_LAG_CHECK_MS,
  ) {
    this.resolutionNs = resolutionMs * 1e6;
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.due = performance.now() + checkMs;
    this.timer = setInterval(() => this.check(), checkMs);
    this.timer.unref();
    const gauge = (name: string, help: string, collect?: () => void): Gauge =>
      new Gauge({ name: `${prefix}nodejs_eventloop_lag_${name}`, help, registers: [registry], aggregator: 'average', ...(collect ? { collect } : {}) });
    const lag = gauge('seconds', 'Lag of event loop in seconds.', () => {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      this.report();
    });
    const min = gauge('min_seconds', 'The minimum recorded event loop delay.');
    const max = gauge('max_seconds', 'The maximum recorded event loop delay.');
    const mean = gauge('mean_seconds', 'The mean of the recorded event loop delays.');
    const stddev = gauge('stddev_seconds', 'The standard deviation of the recorded event loop delays.');
    const p50 = gauge('p50_seconds', 'The 50th percentile of the recorded event loop delays.');
    const p90 = gauge('p90_seconds', 'The 90th percentile of the recorded event loop delays.');
    const p99 = gauge('p99_seconds', 'The 99th percentile of the recorded event loop delays.');
    this.report = () => {
      const h = this.histogram;
      const sampled = h.count > 0;
      const at = (ns: number): number => (sampled ? ns : this.resolutionNs) / 1e9;
      min.set(Math.min(at(h.min), this.checkedMaxNs > 0 ? this.checkedMaxNs / 1e9 : Infinity));
      max.set(Math.max(at(h.max), this.checkedMaxNs / 1e9));
      mean.set(at(h.mean));
      stddev.set(sampled ? h.stddev / 1e9 : 0);
      p50.set(at(h.percentile(50)));
      p90.set(at(h.percentile(90)));
      p99.set(at(h.percentile(99)));
      h.reset();
      this.checkedMaxNs = 0;
    };
  }

  /** Sets the gauges from what was seen since the last scrape, and starts afresh. */
  private readonly report: () => void;

  /** Whether the delay sampler runs now (the loop had work in the last check). */
  get active(): boolean {
    return this.sampling;
  }

  /** Looks at the loop's work since the last check; starts or stops the sampler. */
  check(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.due);
    this.due = now + this.checkMs;
    const since = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    const busy = since.utilization >= LOOP_LAG_BUSY_SHARE || late >= this.resolutionMs;
    if (!this.sampling) {
      // Nothing sampled this stretch: a stall in it shows here, at most its busy time (and this check's lateness).
      const stallMs = Math.max(late, since.active >= this.resolutionMs ? since.active : 0);
      if (stallMs > 0) this.checkedMaxNs = Math.max(this.checkedMaxNs, (stallMs + this.resolutionMs) * 1e6);
    }
    if (busy && !this.sampling) this.histogram.enable();
    else if (!busy && this.sampling) this.histogram.disable();
    this.sampling = busy;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
