import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern, parsePattern } from './extension-pattern.js';
import { patternCovers, patternsIntersect, shadowingOrder } from './pattern-overlap.js';

const p = parsePattern;

/**
 * Names of up to three positions. Their sets tell apart only 0, 1, 2, 3 (standing for 3-9), a and
 * anything else (#), and a witness never needs more than one character past the last position, so the
 * strings of up to four of those six characters decide every question exactly.
 */
const name = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom('0', '1', '2', 'a', 'X', 'N', 'Z', '[01]', '[1a]', '[-]', '.', '!'), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([literal, tokens]) =>
    literal ? tokens.filter((t) => /^[0-2a]$/.test(t)).join('') : `_${tokens.join('')}`,
  )
  .filter((text) => text !== '' && text !== '_');

const witnesses: string[] = [''];
for (let length = 1, previous = ['']; length <= 4; length += 1) {
  previous = previous.flatMap((prefix) => ['0', '1', '2', '3', 'a', '#'].map((c) => prefix + c));
  witnesses.push(...previous);
}

describe('patternsIntersect', () => {
  it.each([
    ['_1XX', '_1.', true],
    ['_1XX', '_2XX', false],
    ['_8XXXXXXXXXX', '_8495XXXXXXX', true],
    ['_[34]XX', '_5.', false],
    ['_[34]XX', '_3!', true],
    ['_[34]XX', '_3XXX', false],
    ['_X.', '_1', false],
    ['_X!', '_1', true],
    ['_1.', '_1', false],
    ['_1!', '_1', true],
    ['_.', '_!', true],
    ['_N', '_[01]', false],
    ['_Z', '_[01]', true],
    ['101', '_1XX', true],
    ['101', '1-01', true],
    ['101', '102', false],
    ['_[-]', '_!', false],
    ['_9.23', '_9X45', true],
  ] as const)('%s ∩ %s → %s', (a, b, expected) => {
    expect(patternsIntersect(p(a), p(b))).toBe(expected);
    expect(patternsIntersect(p(b), p(a))).toBe(expected);
  });

  it('agrees with brute force over short numbers', () => {
    fc.assert(
      fc.property(name, name, (ta, tb) => {
        const [a, b] = [p(ta), p(tb)];
        const brute = witnesses.some((w) => matchesPattern(a, w) && matchesPattern(b, w));
        expect(patternsIntersect(a, b)).toBe(brute);
      }),
      { numRuns: 500 },
    );
  });
});

describe('patternCovers', () => {
  it.each([
    ['_X.', '_1XX', true],
    ['_1XX', '_X.', false],
    ['_X!', '_X', true],
    ['_X.', '_X', false],
    ['_!', '_.', true],
    ['_.', '_!', false],
    ['_XX', '_1[2-5]', true],
    ['_NX', '_1X', false],
    ['_1XX', '105', true],
    ['_1', '_[-]', true],
  ] as const)('%s ⊇ %s → %s', (outer, inner, expected) => {
    expect(patternCovers(p(outer), p(inner))).toBe(expected);
  });

  it('agrees with brute force over short numbers', () => {
    fc.assert(
      fc.property(name, name, (ta, tb) => {
        const [outer, inner] = [p(ta), p(tb)];
        const brute = witnesses.every((w) => !matchesPattern(inner, w) || matchesPattern(outer, w));
        expect(patternCovers(outer, inner)).toBe(brute);
      }),
      { numRuns: 500 },
    );
  });
});

describe('shadowingOrder', () => {
  it('tells which pattern takes the shared numbers', () => {
    // An outbound route `_1.` against the extension range 100-199: the range sorts first.
    expect(shadowingOrder(p('_1.'), p('_1XX'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    // A route `_10X` inside the range 100-199 takes 100-109 from it.
    expect(shadowingOrder(p('_1XX'), p('_10X'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    // A literal always wins; `_X.` can still take other numbers.
    expect(shadowingOrder(p('112'), p('_X.'))).toEqual({
      first: 'a',
      overlap: true,
      secondUnreachable: false,
    });
    // The same extension written twice: the second can never be reached.
    expect(shadowingOrder(p('_1XX'), p('_1[0-9]X'))).toEqual({
      first: 'same',
      overlap: true,
      secondUnreachable: true,
    });
    // `X` sorts before `.`, but `_1.` still takes numbers such as 1a that `_1X!` does not match.
    expect(shadowingOrder(p('_1.'), p('_1X!'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_1.'), p('_1[0-9a-z]!'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_2XX'), p('_1XX'))).toEqual({
      first: 'b',
      overlap: false,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_12'), p('_1[2-3]'))).toEqual({
      first: 'a',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_1[2-3]'), p('_12!'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_!'), p('_1X'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_1X'), p('_1!'))).toEqual({
      first: 'a',
      overlap: true,
      secondUnreachable: false,
    });
    expect(shadowingOrder(p('_X'), p('_1!'))).toEqual({
      first: 'b',
      overlap: true,
      secondUnreachable: false,
    });
    // `!` sorts before the end of a pattern and matches everything `_1` does.
    expect(shadowingOrder(p('_1!'), p('_1'))).toEqual({ first: 'a', overlap: true, secondUnreachable: true });
    expect(shadowingOrder(p('_X'), p('_X!'))).toEqual({ first: 'b', overlap: true, secondUnreachable: true });
  });
});
