import { describe, expect, it } from 'vitest';
import { compactHeap, growthSetByOperator } from './heap.js';

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
