import { describe, expect, it } from 'vitest';
import { SiteLanes } from './site-lanes.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('per-site work lanes', () => {
  it('runs one job per site at a time, sites side by side, and once more for kicks while running', async () => {
    const running = new Map<string, number>();
    let maxPerSite = 0;
    const runs: string[] = [];
    const lanes = new SiteLanes(
      async (site) => {
        running.set(site, (running.get(site) ?? 0) + 1);
        maxPerSite = Math.max(maxPerSite, ...running.values());
        runs.push(site);
        await tick(20);
        running.set(site, (running.get(site) ?? 1) - 1);
      },
      () => undefined,
    );
    lanes.kick('a');
    lanes.kick('b');
    lanes.kick('a');
    lanes.kick('a');
    await lanes.idle();
    expect(maxPerSite).toBe(1);
    expect(runs.filter((s) => s === 'a')).toHaveLength(2);
    expect(runs.filter((s) => s === 'b')).toHaveLength(1);
    expect(runs.slice(0, 2).sort()).toEqual(['a', 'b']);
  });

  it('runs at most maxConcurrent sites at once, the others in kick order, each exactly once', async () => {
    let active = 0;
    let maxActive = 0;
    const started: string[] = [];
    const lanes = new SiteLanes(
      async (site) => {
        started.push(site);
        maxActive = Math.max(maxActive, ++active);
        await tick(5);
        active--;
      },
      () => undefined,
      { minMs: 10, maxMs: 10 },
      3,
    );
    const sites = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const s of sites) lanes.kick(s);
    await lanes.idle();
    expect(maxActive).toBe(3);
    expect(started).toEqual(sites);
  });

  it('gives the place back while a failed site waits to retry', async () => {
    let failures = 0;
    const done: string[] = [];
    const lanes = new SiteLanes(
      async (site) => {
        if (site === 'bad' && failures++ < 2) throw new Error('NATS away');
        done.push(site);
      },
      () => undefined,
      { minMs: 30, maxMs: 30 },
      1,
    );
    lanes.kick('bad');
    lanes.kick('good');
    await tick(15);
    expect(done).toEqual(['good']);
    await lanes.idle();
    expect(done).toEqual(['good', 'bad']);
  });

  it('retries a failure with growing waits, and a kick cuts the wait short', async () => {
    let calls = 0;
    const waits: number[] = [];
    const lanes = new SiteLanes(
      async () => {
        calls++;
        if (calls < 4) throw new Error('NATS away');
      },
      (_site, _error, retryInMs) => waits.push(retryInMs),
      { minMs: 10, maxMs: 60_000 },
    );
    lanes.kick('a');
    await tick(100);
    expect(waits.slice(0, 3)).toEqual([10, 20, 40]);
    // The fourth attempt succeeded; no more runs.
    expect(calls).toBe(4);
    await lanes.idle();

    let failing = true;
    const slow = new SiteLanes(
      async () => {
        if (failing) throw new Error('down');
      },
      () => undefined,
      { minMs: 60_000, maxMs: 60_000 },
    );
    slow.kick('a');
    await tick();
    failing = false;
    const started = Date.now();
    slow.kick('a');
    await slow.idle();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stops retrying when stopped', async () => {
    let calls = 0;
    const lanes = new SiteLanes(
      async () => {
        calls++;
        throw new Error('down');
      },
      () => undefined,
      { minMs: 60_000, maxMs: 60_000 },
    );
    lanes.kick('a');
    await tick();
    await lanes.stop();
    expect(calls).toBe(1);
    lanes.kick('a');
    await tick();
    expect(calls).toBe(1);
  });
});
