import { parsePattern, type ExtensionPattern } from './extension-pattern.js';
import { ExtensionRangeError } from './pattern-errors.js';

/**
 * The patterns matching exactly the numbers `from`..`to` (inclusive), for a block of equal-length digit
 * strings (leading zeros count: `'0100'`..`'0199'` → `_01XX`).
 *
 * Each pattern is a literal prefix followed by X's, except that the last position may be a digit range
 * (`_10[5-9]`, written `N`/`Z` when it is 2-9/1-9). A varying digit followed by X's becomes one pattern per
 * digit (`'100'..'299'` → `_1XX`, `_2XX`) unless it spans 0-9: a literal digit sorts before any wider set
 * in `ext_cmp`, so the range's patterns stay more specific than routes such as `_[12].` or `_1NX`. The list
 * is the fewest patterns of that shape, in ascending order of the numbers they cover, and they are
 * pairwise disjoint.
 *
 * @throws ExtensionRangeError when `from`/`to` are not non-empty digit strings of equal length, or
 *   `from` > `to`.
 */
export function rangeToPatterns(from: string, to: string): ExtensionPattern[] {
  if (!/^[0-9]+$/.test(from) || !/^[0-9]+$/.test(to)) {
    throw new ExtensionRangeError('NOT_DIGITS', from, to);
  }
  if (from.length !== to.length) {
    throw new ExtensionRangeError('LENGTH_MISMATCH', from, to);
  }
  if (from > to) {
    throw new ExtensionRangeError('REVERSED', from, to);
  }
  const texts: string[] = [];
  split('_', from, to, texts);
  return texts.map(parsePattern);
}

/** Appends the patterns for `prefix` + [`low`..`high`]; `low` <= `high`, equal lengths. */
function split(prefix: string, low: string, high: string, out: string[]): void {
  let common = 0;
  while (common < low.length && low[common] === high[common]) common += 1;
  if (common === low.length) {
    out.push(prefix + low);
    return;
  }
  const head = prefix + low.slice(0, common);
  const lowDigit = Number(low[common]);
  const highDigit = Number(high[common]);
  const lowRest = low.slice(common + 1);
  const highRest = high.slice(common + 1);
  if (lowRest === '') {
    out.push(head + digitRange(lowDigit, highDigit));
    return;
  }
  const tail = 'X'.repeat(lowRest.length);
  // A side whose remaining digits are all 0s (low) or all 9s (high) covers its whole digit block.
  const lowWhole = /^0+$/.test(lowRest);
  const highWhole = /^9+$/.test(highRest);
  if (lowWhole && highWhole && lowDigit === 0 && highDigit === 9) {
    out.push(head + 'X' + tail);
    return;
  }
  if (!lowWhole) {
    split(head + String(lowDigit), lowRest, '9'.repeat(lowRest.length), out);
  }
  const firstWhole = lowWhole ? lowDigit : lowDigit + 1;
  const lastWhole = highWhole ? highDigit : highDigit - 1;
  for (let d = firstWhole; d <= lastWhole; d += 1) {
    out.push(head + String(d) + tail);
  }
  if (!highWhole) {
    split(head + String(highDigit), '0'.repeat(highRest.length), highRest, out);
  }
}

/** One position matching the digits `low`..`high`, written in canonical form. */
function digitRange(low: number, high: number): string {
  if (low === high) return String(low);
  if (low === 0 && high === 9) return 'X';
  if (low === 1 && high === 9) return 'Z';
  if (low === 2 && high === 9) return 'N';
  if (high === low + 1) return `[${low}${high}]`;
  return `[${low}-${high}]`;
}
