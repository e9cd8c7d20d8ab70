import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareExtensions, matchesPattern, parsePattern } from './extension-pattern.js';
import { PatternSyntaxError } from './pattern-errors.js';
import { PatternSet, type PatternEntry } from './pattern-set.js';

const routes = new PatternSet<string>([
  { pattern: '_X.', value: 'anything' },
  { pattern: '_8XXXXXXXXXX', value: 'long-distance' },
  { pattern: '_8495XXXXXXX', value: 'moscow' },
  { pattern: '_8812XXXXXXX', value: 'piter' },
  { pattern: '_810X.', value: 'international' },
  { pattern: '_112', value: 'emergency' },
  { pattern: '_[34]XX', value: 'extensions' },
  { pattern: '305', value: 'reception' },
  { pattern: '_9!', value: 'early' },
  { pattern: '_9.', value: 'nine' },
  { pattern: '_1NX', value: '1nx' },
  { pattern: '_12X', value: '12x' },
  { pattern: '_1XX', value: '1xx' },
  { pattern: '_1.', value: '1.' },
]);

describe('PatternSet', () => {
  it.each([
    ['84951234567', 'moscow'],
    ['8-495-123-45-67', 'moscow'],
    ['88121234567', 'piter'],
    ['83431234567', 'long-distance'],
    ['8343123456', 'anything'],
    ['810441234', 'international'],
    ['8104412345678901', 'international'],
    ['112', 'emergency'],
    ['305', 'reception'],
    ['306', 'extensions'],
    ['499', 'extensions'],
    ['9', 'early'],
    ['95', 'nine'],
    ['125', '12x'],
    ['135', '1nx'],
    ['115', '1xx'],
    ['1155', '1.'],
    ['11', '1.'],
  ] as const)('%s → %s', (dialled, value) => {
    expect(routes.bestMatch(dialled)?.value).toBe(value);
  });

  it.each(['', '1', 'a', '-', 'é', '*'])('finds nothing for %j', (dialled) => {
    expect(routes.bestMatch(dialled)).toBeUndefined();
  });

  it('lists every match in ext_cmp order', () => {
    expect(routes.allMatches('112').map((e) => e.pattern.text)).toEqual(['_112', '_1XX', '_1.', '_X.']);
    expect(routes.allMatches('305').map((e) => e.value)).toEqual(['reception', 'extensions', 'anything']);
    expect(routes.allMatches('9').map((e) => e.value)).toEqual(['early']);
    expect(routes.allMatches('98').map((e) => e.value)).toEqual(['nine', 'early', 'anything']);
    expect(routes.allMatches('')).toEqual([]);
  });

  it('keeps every value of a repeated extension, the first one winning', () => {
    const set = new PatternSet([
      { pattern: '_X', value: 1 },
      { pattern: '_[0-9]', value: 2 },
      { pattern: '_x', value: 3 },
      { pattern: '55-5', value: 4 },
      { pattern: '555', value: 5 },
      { pattern: '_1.5', value: 6 },
      { pattern: '_1.4', value: 7 },
      { pattern: '_1.5', value: 8 },
    ]);
    expect(set.size).toBe(8);
    expect(set.bestMatch('5')?.value).toBe(1);
    expect(set.allMatches('5').map((e) => e.value)).toEqual([1, 2, 3]);
    expect(set.allMatches('555').map((e) => e.value)).toEqual([4, 5]);
    // Matching ignores what follows `.`, but ordering does not: `_1.4` sorts before `_1.5`.
    expect(set.allMatches('19').map((e) => e.value)).toEqual([7, 6, 8]);
  });

  it('puts `!` before a pattern ending at the same place, and both after longer ones', () => {
    const set = new PatternSet([
      { pattern: '_1', value: 'end' },
      { pattern: '_1!', value: 'bang' },
      { pattern: '_1.', value: 'dot' },
      { pattern: '_1X', value: 'x' },
    ]);
    expect(set.bestMatch('1')?.value).toBe('bang');
    expect(set.allMatches('1').map((e) => e.value)).toEqual(['bang', 'end']);
    expect(set.allMatches('12').map((e) => e.value)).toEqual(['x', 'dot', 'bang']);
    expect(set.allMatches('12a').map((e) => e.value)).toEqual(['dot', 'bang']);
  });

  it('accepts parsed patterns and returns them as given', () => {
    const pattern = parsePattern('_NXXXXXX');
    const set = new PatternSet([{ pattern, value: 'local' }]);
    expect(set.bestMatch('2345678')).toEqual({ pattern, value: 'local' });
    expect(set.bestMatch('2345678')?.pattern).toBe(pattern);
  });

  it('rejects a malformed pattern when built', () => {
    expect(() => new PatternSet([{ pattern: '_[9-1]', value: 0 }])).toThrow(PatternSyntaxError);
  });

  it('is empty when built from nothing', () => {
    const set = new PatternSet<never>([]);
    expect(set.size).toBe(0);
    expect(set.bestMatch('1')).toBeUndefined();
    expect(set.allMatches('')).toEqual([]);
  });

  it('orders many overlapping sets at one node', () => {
    const entries = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X', 'N', 'Z', '[13]'].map(
      (head, value) => ({
        pattern: `_${head}X`,
        value,
      }),
    );
    const set = new PatternSet(entries);
    expect(set.allMatches('30').map((e) => e.pattern.text)).toEqual(['_3X', '_[13]X', '_NX', '_ZX', '_XX']);
    expect(set.bestMatch('a0')).toBeUndefined();
  });

  it('agrees with a brute-force search in ext_cmp order', () => {
    const token = fc.constantFrom('0', '1', '2', 'a', '-', 'X', 'N', 'Z', '[12]', '[0-2a]', '.', '!');
    const name = fc
      .tuple(fc.boolean(), fc.array(token, { minLength: 1, maxLength: 5 }))
      .map(([literal, tokens]) =>
        literal ? tokens.map((t) => t.replace(/[^0-2a-]/g, '')).join('') : `_${tokens.join('')}`,
      )
      .filter((text) => /[^_-]/.test(text));
    const dialled = fc
      .array(fc.constantFrom('0', '1', '2', '3', 'a', '-', 'é'), { maxLength: 7 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 30 }),
        fc.array(dialled, { minLength: 1, maxLength: 10 }),
        (names, numbers) => {
          const entries: PatternEntry<number>[] = names.map((text, value) => ({
            pattern: parsePattern(text),
            value,
          }));
          const set = new PatternSet(entries);
          for (const number of numbers) {
            const matching = entries
              .filter((e) => matchesPattern(e.pattern, number))
              .sort((a, b) => compareExtensions(a.pattern, b.pattern));
            expect(set.allMatches(number).map((e) => e.value)).toEqual(matching.map((e) => e.value));
            expect(set.bestMatch(number)?.value).toBe(matching[0]?.value);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
