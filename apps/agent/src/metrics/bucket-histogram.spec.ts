import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from './bucket-histogram.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

function pair(): { ours: BucketHistogram; theirs: Histogram; ourRegistry: Registry; theirRegistry: Registry } {
  const ourRegistry = new Registry();
  const theirRegistry = new Registry();
  const config = { name: 'fedpbx_test_seconds', help: 'A test histogram', buckets: BUCKETS };
  return { ours: new BucketHistogram({ ...config, registers: [ourRegistry] }), theirs: new Histogram({ ...config, registers: [theirRegistry] }), ourRegistry, theirRegistry };
}

describe('BucketHistogram', () => {
  it('reads exactly as prom-client\'s histogram for the same observations (text and JSON)', async () => {
    const { ours, theirs, ourRegistry, theirRegistry } = pair();
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics()); // nothing observed yet
    // Values on the bounds, between them, above the last one, zero, negative, and many random ones: the sum of
    // thousands of floats must come out bit for bit as prom-client's running sum.
    const values = [0, -0.001, 0.0001, 0.00025, 0.5, 0.50001, 7, 1e-9];
    let seed = 42;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values.push((seed / 2 ** 31) ** 3 * 0.8);
    }
    for (const v of values) {
      ours.observe(v);
      theirs.observe(v);
    }
    const text = await ourRegistry.metrics();
    expect(text).toBe(await theirRegistry.metrics());
    expect(text).toMatch(/^fedpbx_test_seconds_bucket\{le="\+Inf"\} 5008$/m);
    expect(await ourRegistry.getMetricsAsJSON()).toEqual(await theirRegistry.getMetricsAsJSON());
    expect(JSON.stringify(await ourRegistry.getMetricsAsJSON())).toBe(JSON.stringify(await theirRegistry.getMetricsAsJSON()));
    ourRegistry.resetMetrics();
    theirRegistry.resetMetrics();
    ours.observe(0.003);
    theirs.observe(0.003);
    // prom-client's reset drops the series until the next observation; both then show the one value.
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });

  it('refuses a value that is not a finite number, as prom-client does, and counts nothing for it', async () => {
    const { ours, theirs, ourRegistry, theirRegistry } = pair();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => ours.observe(bad)).toThrow(TypeError);
      expect(() => theirs.observe(bad)).toThrow(TypeError);
    }
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });

  it('takes its name in the registry as any metric does', () => {
    const registry = new Registry();
    new BucketHistogram({ name: 'x_seconds', help: 'x', buckets: BUCKETS, registers: [registry] });
    expect(() => new Histogram({ name: 'x_seconds', help: 'x', registers: [registry] })).toThrow(/already been registered/);
  });
});
