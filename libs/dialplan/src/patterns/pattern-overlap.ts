/**
 * Relations between the sets of numbers two extension names match - what numbering-plan validation needs
 * to tell that an outbound-route pattern would take numbers of an extension range.
 *
 * A name matches: its character-set positions up to the first `.`/`!`, one per dialled character, then
 * nothing more (no wildcard), one or more of anything (`.`), or zero or more (`!`). `-` never reaches a
 * set (it is skipped in dialled data), so it is dropped from sets here; a set holding only `-` makes the
 * name match nothing at all.
 */
import { compareExtensions, type ExtensionPattern } from './extension-pattern.js';

type Tail = 'none' | 'one-or-more' | 'zero-or-more';

interface Shape {
  /** Members of each set position before the first wildcard, `-` removed; `undefined` if one is empty. */
  readonly sets: readonly string[] | undefined;
  readonly tail: Tail;
}

function shapeOf(pattern: ExtensionPattern): Shape {
  const sets: string[] = [];
  for (const position of pattern.positions) {
    if (position.kind !== 'set') {
      return { sets: validSets(sets), tail: position.kind };
    }
    sets.push(position.chars.replace('-', ''));
  }
  return { sets: validSets(sets), tail: 'none' };
}

function validSets(sets: string[]): string[] | undefined {
  return sets.includes('') ? undefined : sets;
}

function sharesChar(a: string, b: string): boolean {
  for (const c of a) {
    if (b.includes(c)) return true;
  }
  return false;
}

function isSubset(inner: string, outer: string): boolean {
  for (const c of inner) {
    if (!outer.includes(c)) return false;
  }
  return true;
}

/** Whether some dialled number is matched by both `a` and `b`. */
export function patternsIntersect(a: ExtensionPattern, b: ExtensionPattern): boolean {
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  if (sa.sets === undefined || sb.sets === undefined) return false;
  const m = sa.sets.length;
  const n = sb.sets.length;
  for (let k = 0; k < Math.min(m, n); k += 1) {
    if (!sharesChar(sa.sets[k] as string, sb.sets[k] as string)) return false;
  }
  if (m < n) return sa.tail !== 'none';
  if (m > n) return sb.tail !== 'none';
  // Same number of fixed positions: only "exactly here" against "at least one more" cannot meet.
  return !(
    (sa.tail === 'none' && sb.tail === 'one-or-more') ||
    (sa.tail === 'one-or-more' && sb.tail === 'none')
  );
}

/** Whether every number `inner` matches is also matched by `outer`. */
export function patternCovers(outer: ExtensionPattern, inner: ExtensionPattern): boolean {
  const so = shapeOf(outer);
  const si = shapeOf(inner);
  if (si.sets === undefined) return true;
  if (so.sets === undefined) return false;
  const m = so.sets.length;
  const n = si.sets.length;
  // `inner` continues with any character at all (or stops) where `outer` still needs a set position.
  if (n < m) return false;
  for (let k = 0; k < m; k += 1) {
    if (!isSubset(si.sets[k] as string, so.sets[k] as string)) return false;
  }
  if (n > m) return so.tail !== 'none';
  switch (si.tail) {
    case 'none':
      return so.tail !== 'one-or-more';
    case 'one-or-more':
      return so.tail !== 'none';
    case 'zero-or-more':
      return so.tail === 'zero-or-more';
  }
}

/** How two extension names in one context interact. */
export interface Shadowing {
  /** Which one Asterisk tries first (`ext_cmp`); `same` when it sees one extension twice. */
  readonly first: 'a' | 'b' | 'same';
  /** Some number matches both, and goes to `first`. */
  readonly overlap: boolean;
  /** The one tried second can never be chosen: every number it matches is taken by the first. */
  readonly secondUnreachable: boolean;
}

/**
 * Which of `a` and `b` takes the numbers they both match. Because Asterisk picks the first matching
 * extension in `ext_cmp` order, that is the one sorting first, for every shared number.
 */
export function shadowingOrder(a: ExtensionPattern, b: ExtensionPattern): Shadowing {
  const cmp = compareExtensions(a, b);
  const first = cmp < 0 ? 'a' : cmp > 0 ? 'b' : 'same';
  return {
    first,
    overlap: patternsIntersect(a, b),
    secondUnreachable: cmp > 0 ? patternCovers(b, a) : patternCovers(a, b),
  };
}
