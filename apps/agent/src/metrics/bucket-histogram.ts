import { format } from 'node:util';
import type { Metric, Registry } from 'prom-client';

interface BucketHistogramConfig {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending (as prom-client takes them). */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

/** What the registry reads from a metric (prom-client's histogram gives the same). */
export interface HistogramData {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly values: readonly ValuePair[];
  readonly aggregator: 'sum';
}

interface ValuePair {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar?: null | undefined;
}

/**
 * A histogram without labels whose `observe` only bumps numbers in preallocated typed arrays: prom-client's
 * `Histogram.observe` makes a closure and two objects and hashes the (empty) label set on every call, and the agent
 * observes once per call. The registry reads it as it reads a prom-client histogram - the same values in the same
 * shape (`getForPromString` for the text format, `get` for JSON), so `/metrics` is unchanged: the running sum is
 * added up in observation order as prom-client adds it, and the buckets are counted as prom-client counts them (a
 * value above the last bound counts only in `+Inf`, `_sum` and `_count`).
 */
export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: Float64Array;
  /** Observations per bucket (not cumulative), as prom-client keeps them. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(config: BucketHistogramConfig) {
    this.name = config.name;
    this.help = config.help;
    this.bounds = Float64Array.from(config.buckets);
    this.counts = new Float64Array(this.bounds.length);
    // Registered as prom-client's own metrics register (by name, refused if taken): the registry only reads
    // name, get() / getForPromString() and reset().
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${format(value)}`);
    this.sum += value;
    this.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** What prom-client's histogram gives the text format: the label set of each series kept apart as `sharedLabels`. */
  async getForPromString(): Promise<HistogramData> {
    return this.snapshot(false);
  }

  /** What prom-client's `Histogram.get()` gives (JSON): labels merged. */
  async get(): Promise<HistogramData> {
    return this.snapshot(true);
  }

  private snapshot(splay: boolean): HistogramData {
    const bucketName = `${this.name}_bucket`;
    const values: ValuePair[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i] as number;
      values.push(pair({ le: this.bounds[i] as number }, acc, bucketName, null, splay));
    }
    values.push(
      pair({ le: '+Inf' }, this.count, bucketName, null, splay),
      pair({}, this.sum, `${this.name}_sum`, undefined, splay),
      pair({}, this.count, `${this.name}_count`, undefined, splay),
    );
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** One series as prom-client's histogram exports it (setValuePair, and splayLabels for get()). */
function pair(labels: Record<string, string | number>, value: number, metricName: string, exemplar: null | undefined, splay: boolean): ValuePair {
  return splay ? { value, metricName, exemplar, labels } : { labels, sharedLabels: {}, value, metricName, exemplar };
}
