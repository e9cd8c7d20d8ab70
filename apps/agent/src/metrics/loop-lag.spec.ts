import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { collectProcessMetrics, LoopLagMonitor } from './loop-lag.js';

const NAMES = ['seconds', 'min_seconds', 'max_seconds', 'mean_seconds', 'stddev_seconds', 'p50_seconds', 'p90_seconds', 'p99_seconds'];

async function figures(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    const m = /^t_nodejs_eventloop_lag_(\w+) (\S+)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/** Keeps the loop's thread busy (a synchronous stall) for `ms`. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('LoopLagMonitor', () => {
  let monitor: LoopLagMonitor | undefined;
  afterEach(() => monitor?.stop());

  it("has prom-client's event-loop lag figures, and reads one sampling interval before anything was sampled", async () => {
    const registry = new Registry();
    // A check interval far beyond the test: only the checks the test makes run.
    monitor = new LoopLagMonitor(registry, 't_', 20, 3_600_000);
    const f = await figures(registry);
    expect([...f.keys()].sort()).toEqual([...NAMES].sort());
    for (const name of ['min_seconds', 'max_seconds', 'mean_seconds', 'p50_seconds', 'p90_seconds', 'p99_seconds']) expect(f.get(name)).toBe(0.02);
    expect(f.get('stddev_seconds')).toBe(0);
  });

  it('counts a stall that starts while the sampler is off (at rest), and samples from then on', async () => {
    const registry = new Registry();
    monitor = new LoopLagMonitor(registry, 't_', 20, 3_600_000);
    expect(monitor.active).toBe(false);
    stall(150);
    monitor.check();
    expect(monitor.active).toBe(true);
    const f = await figures(registry);
    // The stall's busy time plus one interval (an upper bound), never less than the stall.
    expect(f.get('max_seconds')).toBeGreaterThanOrEqual(0.15 + 0.02);
    // Reported once: the next scrape starts afresh.
    expect((await figures(registry)).get('max_seconds')).toBeLessThan(0.15);
  });

  it("gives prom-client's default process metrics once each, the lag figures from the monitor", async () => {
    const registry = new Registry();
    monitor = collectProcessMetrics(registry, 't_', 20);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['t_process_cpu_user_seconds_total', 't_nodejs_heap_size_used_bytes', 't_nodejs_gc_duration_seconds', 't_nodejs_version_info']) expect(names).toContain(name);
    for (const name of NAMES) expect(names).toContain(`t_nodejs_eventloop_lag_${name}`);
    // The monitor's figures (one interval before anything was sampled), not prom-client's.
    expect((await figures(registry)).get('p99_seconds')).toBe(0.02);
  });
});
