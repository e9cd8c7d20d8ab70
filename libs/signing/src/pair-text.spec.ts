import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { pairText, splitPairText } from './split-snapshot.js';

/** Bytes in V8's large object space, where a string of megabytes lives, after two full collections. */
function largeObjectBytes(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return getHeapSpaceStatistics().find((s) => s.space_name === 'large_object_space')?.space_used_size ?? 0;
}

describe('splitPairText', () => {
  it('gives the two texts of a pair', () => {
    expect(splitPairText(pairText('{"site":1}', '{"shared":2}'))).toEqual({ siteText: '{"site":1}', sharedText: '{"shared":2}' });
    expect(splitPairText('{"whole":1}')).toBeUndefined();
  });

  it('gives a shared part that does not keep the site part alive (the applier keeps it while it stays in force)', () => {
    const before = largeObjectBytes();
    let kept: string | undefined;
    // A head office's site part: 32 MB, read back from disk with its shared part in one string.
    (() => {
      const pair = splitPairText(pairText(`{"site":"${'x'.repeat(32 << 20)}"}`, '{"shared":"the part kept"}'));
      kept = pair?.sharedText;
    })();
    expect(kept).toBe('{"shared":"the part kept"}');
    expect(largeObjectBytes() - before).toBeLessThan(8 << 20);
  });
});
