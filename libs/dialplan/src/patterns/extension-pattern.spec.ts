import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareExtensions,
  matchesPattern,
  parsePattern,
  type ExtensionPattern,
} from './extension-pattern.js';
import { PatternSyntaxError, type PatternSyntaxErrorCode } from './pattern-errors.js';

const p = parsePattern;

/** Names over a small alphabet, so that random names and numbers often meet. */
const arbitraryPatternText = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom('0', '1', '2', 'a', '-', 'X', 'N', 'Z', '[12]', '[0-2a]', '[]', '.', '!'), {
      minLength: 1,
      maxLength: 5,
    }),
  )
  .map(([literal, tokens]) =>
    literal ? tokens.map((t) => t.replace(/[^0-2a-]/g, '')).join('') : `_${tokens.join('')}`,
  )
  .filter((text) => /[^_\-[\]]/.test(text));
const arbitraryDialled = fc
  .array(fc.constantFrom('0', '1', '2', '3', 'a', 'X', '-', 'é'), { maxLength: 6 })
  .map((chars) => chars.join(''));

describe('parsePattern', () => {
  it.each([
    // text, canonical, isLiteral, minLength, maxLength
    ['5551234', '5551234', true, 7, 7],
    ['555-1234', '5551234', true, 7, 7],
    ['s', 's', true, 1, 1],
    ['XN', 'XN', true, 2, 2],
    ['_NXXXXXX', '_NXXXXXX', false, 7, 7],
    ['_1NXXNXXXXXX', '_1NXXNXXXXXX', false, 11, 11],
    ['_9011.', '_9011.', false, 5, Infinity],
    ['_9!', '_9!', false, 1, Infinity],
    ['_!', '_!', false, 0, Infinity],
    ['_[1-4]XX', '_[1-4]XX', false, 3, 3],
    ['_[a-z]', '_[a-z]', false, 1, 1],
    ['_555-XXXX', '_555XXXX', false, 7, 7],
    ['_xzn', '_XZN', false, 3, 3],
    ['_[0-9][1-9][2-9]', '_XZN', false, 3, 3],
    ['_[1][]2', '_12', false, 2, 2],
    ['_[4321]', '_[1-4]', false, 1, 1],
    ['_[34]XX', '_[34]XX', false, 3, 3],
    ['_[1-35-7]', '_[1-35-7]', false, 1, 1],
    ['_[X]', '_[X]', false, 1, 1],
    ['_[.][!]', '_[.][!]', false, 2, 2],
    ['_[1-]', '_[-1]', false, 1, 1],
    ['_[+--0]', '_[+--0]', false, 1, 1],
    ['_[A-z]', '_[A-z]', false, 1, 1],
    ['_1.23', '_1.23', false, 2, Infinity],
    ['__1', '__1', false, 2, 2],
    ['_*#+', '_*#+', false, 3, 3],
  ] as const)('%s', (text, canonical, isLiteral, minLength, maxLength) => {
    const pattern = p(text);
    expect(pattern).toMatchObject({ text, canonical, isLiteral, minLength, maxLength });
    // The canonical text means the same extension.
    expect(compareExtensions(p(pattern.canonical), pattern)).toBe(0);
    expect(p(pattern.canonical).canonical).toBe(canonical);
  });

  it('keeps the positions after a wildcard, with their scores', () => {
    expect(p('_1[2-3].4').positions).toEqual([
      { kind: 'set', chars: '1', score: 0x131 },
      { kind: 'set', chars: '23', score: 0x232 },
      { kind: 'one-or-more', score: 0x18000 },
      { kind: 'set', chars: '4', score: 0x134 },
    ]);
    expect(p('_X!').positions.map((pos) => pos.score)).toEqual([0xa30, 0x28000]);
    expect(p('_NZ').positions.map((pos) => pos.score)).toEqual([0x832, 0x931]);
  });

  it.each([
    ['_', 'EMPTY'],
    ['', 'EMPTY'],
    ['---', 'EMPTY'],
    ['_--', 'EMPTY'],
    ['_[]', 'EMPTY'],
    ['_[12', 'UNCLOSED_SET'],
    ['_1[', 'UNCLOSED_SET'],
    ['_[9-1]', 'BAD_RANGE'],
    ['_[a-A]', 'BAD_RANGE'],
    ['_1XX/100', 'UNSUPPORTED_CID'],
    ['100/_X.', 'UNSUPPORTED_CID'],
    ['_[/]', 'UNSUPPORTED_CID'],
    [`_${'X'.repeat(80)}`, 'TOO_LONG'],
    ['_1 2', 'BAD_CHAR'],
    ['_1\t', 'BAD_CHAR'],
    ['_1é', 'BAD_CHAR'],
    ['_[1-é]', 'BAD_CHAR'],
  ] as const)('rejects %j with %s', (text, code: PatternSyntaxErrorCode) => {
    const error = catchError(() => p(text));
    expect(error).toBeInstanceOf(PatternSyntaxError);
    expect(error).toMatchObject({ code, text });
  });

  it('accepts exactly 80 characters', () => {
    expect(p(`_${'X'.repeat(79)}`).minLength).toBe(79);
  });

  it('canonical text parses back to the same extension', () => {
    fc.assert(
      fc.property(arbitraryPatternText, (text) => {
        const pattern = p(text);
        const again = p(pattern.canonical);
        expect(again.canonical).toBe(pattern.canonical);
        expect(again.positions).toEqual(pattern.positions);
      }),
    );
  });
});

describe('matchesPattern', () => {
  it.each([
    ['5551234', '5551234', true],
    ['5551234', '555-1234', true],
    ['555-1234', '5551234', true],
    ['5551234', '555123', false],
    ['5551234', '55512345', false],
    ['s', 's', true],
    ['s', 'S', false],
    ['_NXXXXXX', '2345678', true],
    ['_NXXXXXX', '1345678', false],
    ['_NXXXXXX', '234567', false],
    ['_NXXXXXX', '23456789', false],
    ['_NXXXXXX', '234-5678', true],
    ['_1NXXNXXXXXX', '12125551234', true],
    ['_1NXXNXXXXXX', '11125551234', false],
    ['_1NXXNXXXXXX', '12121551234', false],
    ['_9011.', '9011', false],
    ['_9011.', '90114420', true],
    ['_9011.', '90114', true],
    ['_9!', '9', true],
    ['_9!', '91', true],
    ['_9!', '8', false],
    ['_!', '', true],
    ['_X.', '', false],
    ['_[1-4]XX', '100', true],
    ['_[1-4]XX', '499', true],
    ['_[1-4]XX', '500', false],
    ['_[a-z]', 'q', true],
    ['_[a-z]', 'Q', false],
    ['_[a-z]', '1', false],
    ['_555-XXXX', '5551234', true],
    ['_555-XXXX', '555-1234', true],
    ['_555-XXXX', '55512345', false],
    ['_ZX', '10', true],
    ['_ZX', '01', false],
    ['_X', 'x', false],
    ['_[x]', 'x', true],
    ['_1XX', '1-0-0-', true],
    ['_1.23', '19', true],
    ['_1.23', '1999', true],
    ['_1!23', '1', true],
    ['_[1-]', '-', false],
    ['_[1-]', '1', true],
    ['_[-]', '-', false],
    ['_X.', '5é', true],
    ['_XX', '5é', false],
    ['_+7XXXXXXXXXX', '+74951234567', true],
    // An empty set is dropped (Asterisk itself would fail `5` here: see parsePattern).
    ['_5[]', '5', true],
    ['_5[]X', '51', true],
  ] as const)('%s ~ %j → %s', (text, dialled, expected) => {
    expect(matchesPattern(p(text), dialled)).toBe(expected);
  });

  it('agrees with a regular expression built from the positions', () => {
    fc.assert(
      fc.property(arbitraryPatternText, arbitraryDialled, (text, dialled) => {
        const pattern = p(text);
        expect(matchesPattern(pattern, dialled)).toBe(toRegExp(pattern).test(dialled.replaceAll('-', '')));
      }),
    );
  });
});

describe('compareExtensions', () => {
  it.each([
    // documented examples: first sorts before second
    ['_1XX', '_1.'],
    ['_12X', '_1NX'],
    ['_1NX', '_1XX'],
    ['_9.', '_9!'],
    ['305', '_3XX'],
    // more specific sets first, by size then lowest member then members
    ['_1', '_[12]'],
    ['_[23]', '_N'],
    ['_N', '_Z'],
    ['_Z', '_X'],
    ['_[12]', '_[13]'],
    ['_[13]', '_[23]'],
    ['_[124]', '_[134]'],
    ['_X', '_.'],
    ['_[0-9a-z]', '_.'],
    ['_.', '_!'],
    // a pattern that continues sorts before one that ends
    ['_12', '_1'],
    ['_1.', '_1'],
    ['_1!', '_1'],
    ['_1X.', '_1X'],
    // literals by character code, before any pattern
    ['100', '101'],
    ['10', '100'],
    ['911', '_911'],
    ['zzz', '_!'],
    // positions after a wildcard are ignored by matching but still ordered
    ['_1.2', '_1.3'],
  ] as const)('%s before %s', (first, second) => {
    expect(compareExtensions(p(first), p(second))).toBeLessThan(0);
    expect(compareExtensions(p(second), p(first))).toBeGreaterThan(0);
  });

  it.each([
    ['555-1234', '5551234'],
    ['_555-XXXX', '_555XXXX'],
    ['_X', '_[0-9]'],
    ['_[1]', '_1'],
    ['_n', '_[2-9]'],
    ['_[1-3]', '_[321]'],
    ['_1[]2', '_12'],
  ] as const)('%s equals %s', (a, b) => {
    expect(compareExtensions(p(a), p(b))).toBe(0);
    expect(p(a).canonical).toBe(p(b).canonical);
  });

  it('sorts stably: equal extensions keep their order', () => {
    const names = ['_X', '_1XX', '_[0-9]', '101', '_1.', '_X', '10-1', '_12X', '_1NX'];
    const sorted = names
      .map((text, index) => ({ pattern: p(text), index }))
      .sort((a, b) => compareExtensions(a.pattern, b.pattern))
      .map(({ pattern, index }) => `${pattern.text}#${index}`);
    expect(sorted).toEqual([
      '101#3',
      '10-1#6',
      '_12X#7',
      '_1NX#8',
      '_1XX#1',
      '_1.#4',
      '_X#0',
      '_[0-9]#2',
      '_X#5',
    ]);
  });

  it('is a total order consistent with canonical equality', () => {
    fc.assert(
      fc.property(arbitraryPatternText, arbitraryPatternText, arbitraryPatternText, (ta, tb, tc) => {
        const [a, b, c] = [p(ta), p(tb), p(tc)];
        const ab = Math.sign(compareExtensions(a, b));
        expect(Math.sign(compareExtensions(b, a))).toBe(-ab || 0);
        expect(ab === 0).toBe(a.canonical === b.canonical);
        if (ab <= 0 && compareExtensions(b, c) <= 0) {
          expect(compareExtensions(a, c)).toBeLessThanOrEqual(0);
        }
      }),
    );
  });
});

function toRegExp(pattern: ExtensionPattern): RegExp {
  let source = '';
  for (const position of pattern.positions) {
    if (position.kind === 'one-or-more') return new RegExp(`^${source}[^]+$`);
    if (position.kind === 'zero-or-more') return new RegExp(`^${source}[^]*$`);
    source += `[${[...position.chars].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}]`;
  }
  return new RegExp(`^${source}$`);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
