import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from './extension-pattern.js';
import { rangeToPatterns } from './extension-range.js';
import { ExtensionRangeError, type ExtensionRangeErrorCode } from './pattern-errors.js';
import { patternsIntersect } from './pattern-overlap.js';

const texts = (from: string, to: string): string[] => rangeToPatterns(from, to).map((p) => p.text);

describe('rangeToPatterns', () => {
  it.each([
    ['100', '299', ['_1XX', '_2XX']],
    ['105', '123', ['_10[5-9]', '_11X', '_12[0-3]']],
    ['0100', '0199', ['_01XX']],
    ['100', '199', ['_1XX']],
    ['000', '999', ['_XXX']],
    ['200', '200', ['_200']],
    ['7', '7', ['_7']],
    ['0', '9', ['_X']],
    ['1', '9', ['_Z']],
    ['2', '9', ['_N']],
    ['3', '4', ['_[34]']],
    ['102', '109', ['_10N']],
    ['100', '109', ['_10X']],
    ['200', '349', ['_2XX', '_30X', '_31X', '_32X', '_33X', '_34X']],
    ['195', '204', ['_19[5-9]', '_20[0-4]']],
    ['1000', '2999', ['_1XXX', '_2XXX']],
    ['1234', '1240', ['_123[4-9]', '_1240']],
    ['0999', '1000', ['_0999', '_1000']],
    ['1998', '3001', ['_199[89]', '_2XXX', '_300[01]']],
  ] as const)('%s..%s → %j', (from, to, expected) => {
    expect(texts(from, to)).toEqual(expected);
    for (const pattern of rangeToPatterns(from, to)) {
      expect(pattern.text).toBe(pattern.canonical);
    }
  });

  it.each([
    ['', '1', 'NOT_DIGITS'],
    ['1a', '22', 'NOT_DIGITS'],
    ['-1', '10', 'NOT_DIGITS'],
    ['100', '1000', 'LENGTH_MISMATCH'],
    ['299', '100', 'REVERSED'],
  ] as const)('rejects %j..%j with %s', (from, to, code: ExtensionRangeErrorCode) => {
    expect(() => rangeToPatterns(from, to)).toThrow(ExtensionRangeError);
    expect(() => rangeToPatterns(from, to)).toThrow(expect.objectContaining({ code, from, to }));
  });

  it('matches exactly the numbers of the range, each with one pattern', () => {
    const bounds = fc
      .integer({ min: 1, max: 4 })
      .chain((length) =>
        fc
          .tuple(fc.integer({ min: 0, max: 10 ** length - 1 }), fc.integer({ min: 0, max: 10 ** length - 1 }))
          .map(([x, y]) => [length, Math.min(x, y), Math.max(x, y)] as const),
      );
    fc.assert(
      fc.property(bounds, ([length, low, high]) => {
        const pad = (n: number): string => String(n).padStart(length, '0');
        const patterns = rangeToPatterns(pad(low), pad(high));
        for (let n = 0; n < 10 ** length; n += 1) {
          const matching = patterns.filter((p) => matchesPattern(p, pad(n))).length;
          expect(matching).toBe(n >= low && n <= high ? 1 : 0);
        }
        for (const [k, a] of patterns.entries()) {
          for (const b of patterns.slice(k + 1)) expect(patternsIntersect(a, b)).toBe(false);
        }
      }),
      { numRuns: 80 },
    );
  });
});
