import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { compactHeap, growthSetByOperator, semiSpaceOfOperator, startWithSemiSpace } from './heap.js';

describe('growthSetByOperator', () => {
  it('sees a heap growing percent given on the node command line, in either spelling', () => {
    expect(growthSetByOperator(['--heap-growing-percent=100'])).toBe(true);
    expect(growthSetByOperator(['--max-semi-space-size=16', '--heap_growing_percent=200'])).toBe(true);
    expect(growthSetByOperator(['--heap-growing-percent', '150'])).toBe(true);
  });

  it('leaves the agent its own setting otherwise', () => {
    expect(growthSetByOperator([])).toBe(false);
    expect(growthSetByOperator(['--max-semi-space-size=8', '--conditions=@fedpbx/source'])).toBe(false);
    expect(growthSetByOperator(['--heap-growing-percentage=1'])).toBe(false);
  });
});

describe('compactHeap', () => {
  it('frees what a WeakRef made in the calling turn points to (a compile holds its extension list so)', async () => {
    const ref = new WeakRef(Array.from({ length: 1000 }, (_, n) => ({ n })));
    await compactHeap();
    expect(ref.deref()).toBeUndefined();
  });
});

describe('semiSpaceOfOperator', () => {
  it('reads the semi-space size Node was started with, the command line before NODE_OPTIONS', () => {
    expect(semiSpaceOfOperator([], '--max-semi-space-size=16')).toBe(16);
    expect(semiSpaceOfOperator(['--max_semi_space_size=8'], '--max-semi-space-size=16')).toBe(8);
    expect(semiSpaceOfOperator(['--max-semi-space-size', '32'])).toBe(32);
    expect(semiSpaceOfOperator(['--conditions=@fedpbx/source'], '--max-old-space-size=512')).toBeUndefined();
    expect(semiSpaceOfOperator([])).toBeUndefined();
  });
});

describe('startWithSemiSpace', () => {
  it("gives the worker's heap a young generation of that size, whatever this process's own is", async () => {
    // The worker keeps what it allocates, so its new space grows to its limit: two semi-spaces of 1 MB here.
    const worker = startWithSemiSpace(1, () =>
      new Worker(
        `const { getHeapSpaceStatistics } = require('node:v8');
         const kept = [];
         let most = 0;
         for (let i = 0; i < 200000; i++) {
           kept.push({ i, s: 'x' + i });
           if (i % 1000 === 0) most = Math.max(most, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
         }
         require('node:worker_threads').parentPort.postMessage(most);`,
        { eval: true },
      ),
    );
    const most = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2 * 2 ** 20);
  });
});
