/**
 * Asterisk extension names: parsing, matching and ordering, as main/pbx.c does them
 * (`_extension_match_core`, `ext_cmp`, `ext_cmp_pattern_pos`).
 *
 * Conventions shared by every function in this folder:
 * - `-` is "eye candy" (pbx.c skips it in names and in dialled data alike). Functions taking a dialled
 *   string skip `-` themselves; callers pass the number as dialled.
 * - Matching stops at the first `.` or `!`: `_extension_match_core` returns as soon as it reaches one, so
 *   whatever follows it (`_9.123`) is never looked at. Those trailing positions are still parsed and kept
 *   in `positions`, because `ext_cmp` does compare them when it orders two patterns.
 */
import { PatternSyntaxError } from './pattern-errors.js';

/** One position of an extension name, with its `ext_cmp_pattern_pos` score (lower = more specific). */
export type PatternPosition =
  | {
      /** A single character or a character class: `5`, `X`, `N`, `Z`, `[1-4]`. */
      readonly kind: 'set';
      /** The members, unique, sorted by character code. */
      readonly chars: string;
      /** `(number of members) << 8 | (lowest member's code)`. */
      readonly score: number;
    }
  /** `.`: one or more of anything. */
  | { readonly kind: 'one-or-more'; readonly score: typeof SCORE_ONE_OR_MORE }
  /** `!`: zero or more of anything (Asterisk's "early match"). */
  | { readonly kind: 'zero-or-more'; readonly score: typeof SCORE_ZERO_OR_MORE };

/** A parsed extension name: either a literal extension (`5551234`, `s`) or a pattern (`_NXXXXXX`). */
export interface ExtensionPattern {
  /** The name exactly as given. */
  readonly text: string;
  /**
   * The same name normalised: `-` removed, classes written as `X`/`Z`/`N` where they are one, other sets
   * sorted and compressed (`[5-9]`, `[34]`). Two names have the same canonical text exactly when
   * `compareExtensions` says they are equal, i.e. Asterisk treats them as the same extension.
   */
  readonly canonical: string;
  /** `true` for a name that does not start with `_`. */
  readonly isLiteral: boolean;
  /** Every position, including those after a `.`/`!` (ignored by matching, used by ordering). */
  readonly positions: readonly PatternPosition[];
  /** Shortest dialled string (without `-`) that can match. */
  readonly minLength: number;
  /** Longest dialled string (without `-`) that can match; `Infinity` once a `.` or `!` is reached. */
  readonly maxLength: number;
}

/** Scores from ext_cmp_pattern_pos: above any character set (at most 256 << 8 | 255 = 0x100ff). */
export const SCORE_ONE_OR_MORE = 0x18000;
export const SCORE_ZERO_OR_MORE = 0x28000;
/** Score of the position after the last one: a pattern that continues sorts before one that ends. */
export const SCORE_END = 0x30000;

/** AST_MAX_EXTENSION. */
export const MAX_EXTENSION_LENGTH = 80;

const DASH = 0x2d;
const DIGITS = '0123456789';
const ONE_TO_NINE = '123456789';
const TWO_TO_NINE = '23456789';
/** Characters that mean something in a pattern, so a set holding only one of them is written `[c]`. */
const SPECIAL = 'XxZzNn.![-';

const ONE_OR_MORE: PatternPosition = Object.freeze({ kind: 'one-or-more', score: SCORE_ONE_OR_MORE });
const ZERO_OR_MORE: PatternPosition = Object.freeze({ kind: 'zero-or-more', score: SCORE_ZERO_OR_MORE });

/**
 * Parses an extension name as it would appear in `exten => NAME,...`.
 *
 * @throws PatternSyntaxError for an empty name, an unclosed `[`, a reversed range `[9-1]`, a `/`
 *   (caller-ID match), a name over 80 characters, or a character outside printable ASCII.
 */
export function parsePattern(text: string): ExtensionPattern {
  let pattern = parsed.get(text);
  if (pattern === undefined) {
    pattern = parseUncached(text);
    // Bounded: a federation's routes and DIDs repeat their few hundred names at every compile; anything past the
    // bound (hostile or huge configs) just starts the cache over.
    if (parsed.size >= PARSED_CACHE_LIMIT) parsed.clear();
    parsed.set(text, pattern);
  }
  return pattern;
}

/**
 * Names parsed so far (the values are frozen, so sharing them is safe): a snapshot's compile parses every route
 * pattern and DID again, and from one revision to the next they are nearly all the same names.
 */
const parsed = new Map<string, ExtensionPattern>();
const PARSED_CACHE_LIMIT = 8192;

function parseUncached(text: string): ExtensionPattern {
  if (text.length > MAX_EXTENSION_LENGTH) {
    throw new PatternSyntaxError('TOO_LONG', text);
  }
  const isLiteral = !text.startsWith('_');
  const positions: PatternPosition[] = [];
  let i = isLiteral ? 0 : 1;
  while (i < text.length) {
    const code = checkChar(text, i);
    const ch = text[i] as string;
    i += 1;
    if (code === DASH) {
      continue;
    }
    if (isLiteral) {
      positions.push(setPosition(ch));
      continue;
    }
    switch (ch) {
      case 'X':
      case 'x':
        positions.push(setPosition(DIGITS));
        break;
      case 'Z':
      case 'z':
        positions.push(setPosition(ONE_TO_NINE));
        break;
      case 'N':
      case 'n':
        positions.push(setPosition(TWO_TO_NINE));
        break;
      case '.':
        positions.push(ONE_OR_MORE);
        break;
      case '!':
        positions.push(ZERO_OR_MORE);
        break;
      case '[': {
        const end = text.indexOf(']', i);
        if (end < 0) {
          throw new PatternSyntaxError('UNCLOSED_SET', text, i - 1);
        }
        const chars = parseSet(text, i, end);
        i = end + 1;
        // An empty set `[]` is dropped, as ext_cmp_pattern_pos and most of _extension_match_core do. (The
        // matcher has one quirk we do not copy: a number ending right where a `[]` stands fails, so
        // Asterisk's `_5[]` matches nothing while ours matches 5.)
        if (chars !== '') {
          positions.push(setPosition(chars));
        }
        break;
      }
      default:
        positions.push(setPosition(ch));
    }
  }
  if (positions.length === 0) {
    throw new PatternSyntaxError('EMPTY', text);
  }
  return buildPattern(text, isLiteral, positions);
}

/**
 * Reads the members of `[...]` between `start` and `end` (the `]`), the way both
 * `_extension_match_core` and `ext_cmp_pattern_pos` do: `a-b` is a range only when `b` is before the
 * `]`, otherwise `-` is a member like any other character (`[1-]` = {1, -}; it can never match,
 * because `-` is skipped in dialled data).
 */
function parseSet(text: string, start: number, end: number): string {
  const members = new Set<number>();
  for (let p = start; p < end; p += 1) {
    const first = checkChar(text, p);
    let last = first;
    if (p + 2 < end && text.charCodeAt(p + 1) === DASH) {
      last = checkChar(text, p + 2);
      if (last < first) {
        throw new PatternSyntaxError('BAD_RANGE', text, p);
      }
      p += 2;
    }
    for (let c = first; c <= last; c += 1) {
      members.add(c);
    }
  }
  return String.fromCharCode(...[...members].sort((a, b) => a - b));
}

function checkChar(text: string, index: number): number {
  const code = text.charCodeAt(index);
  if (code === 0x2f) {
    throw new PatternSyntaxError('UNSUPPORTED_CID', text, index);
  }
  if (code < 0x21 || code > 0x7e) {
    throw new PatternSyntaxError('BAD_CHAR', text, index);
  }
  return code;
}

function setPosition(chars: string): PatternPosition {
  return Object.freeze({ kind: 'set', chars, score: (chars.length << 8) | chars.charCodeAt(0) });
}

function buildPattern(text: string, isLiteral: boolean, positions: PatternPosition[]): ExtensionPattern {
  let minLength = 0;
  let maxLength = 0;
  for (const position of positions) {
    if (position.kind === 'set') {
      minLength += 1;
      maxLength += 1;
      continue;
    }
    if (position.kind === 'one-or-more') {
      minLength += 1;
    }
    maxLength = Infinity;
    break;
  }
  const canonical = isLiteral
    ? positions.map((p) => (p.kind === 'set' ? p.chars : '')).join('')
    : `_${positions.map(formatPosition).join('')}`;
  return Object.freeze({
    text,
    canonical,
    isLiteral,
    positions: Object.freeze(positions),
    minLength,
    maxLength,
  });
}

/** Writes one position so that parsing it gives the same position back. */
function formatPosition(position: PatternPosition): string {
  switch (position.kind) {
    case 'one-or-more':
      return '.';
    case 'zero-or-more':
      return '!';
    case 'set':
      return formatSet(position.chars);
  }
}

function formatSet(chars: string): string {
  if (chars === DIGITS) return 'X';
  if (chars === ONE_TO_NINE) return 'Z';
  if (chars === TWO_TO_NINE) return 'N';
  if (chars.length === 1) return SPECIAL.includes(chars) ? `[${chars}]` : chars;
  // Runs of three or more become ranges. `]` can only be a member through a range that has it strictly
  // inside, so it never ends up alone (which would close the set). A lone `-` goes first, where it cannot
  // be read as a range operator.
  let body = '';
  let dash = '';
  let runStart = 0;
  for (let k = 1; k <= chars.length; k += 1) {
    if (k < chars.length && chars.charCodeAt(k) === chars.charCodeAt(k - 1) + 1) continue;
    const run = chars.slice(runStart, k);
    if (run.length >= 3) {
      body += `${run[0] as string}-${run[run.length - 1] as string}`;
    } else {
      for (const c of run) {
        if (c === '-') dash = c;
        else body += c;
      }
    }
    runStart = k;
  }
  return `[${dash}${body}]`;
}

/**
 * Whether `dialled` matches the extension name, as `_extension_match_core` in E_MATCH mode decides it.
 * `-` in `dialled` is skipped. A literal matches only the same characters; `.` needs at least one more
 * character and `!` none, and either one accepts whatever follows it.
 */
export function matchesPattern(pattern: ExtensionPattern, dialled: string): boolean {
  const n = dialled.length;
  let i = 0;
  for (const position of pattern.positions) {
    while (i < n && dialled.charCodeAt(i) === DASH) i += 1;
    if (position.kind === 'zero-or-more') return true;
    if (i === n) return false;
    if (position.kind === 'one-or-more') return true;
    if (!position.chars.includes(dialled[i] as string)) return false;
    i += 1;
  }
  while (i < n && dialled.charCodeAt(i) === DASH) i += 1;
  return i === n;
}

/**
 * Asterisk's `ext_cmp`: the order in which a context's extensions are tried. Negative when `a` comes
 * first. Literals come before every pattern and compare character by character (`-` ignored);
 * patterns compare position by position by score, then equal scores by their members (the set holding
 * the lowest character the other lacks comes first), and a pattern that ends sorts after one that
 * continues. 0 means Asterisk sees the same extension twice.
 */
export function compareExtensions(a: ExtensionPattern, b: ExtensionPattern): number {
  if (a.isLiteral !== b.isLiteral) {
    return a.isLiteral ? -1 : 1;
  }
  if (a.isLiteral) {
    return a.canonical < b.canonical ? -1 : a.canonical > b.canonical ? 1 : 0;
  }
  return comparePositionLists(a.positions, b.positions);
}

function comparePositionLists(a: readonly PatternPosition[], b: readonly PatternPosition[]): number {
  for (let k = 0; ; k += 1) {
    const pa = a[k];
    const pb = b[k];
    if (pa === undefined || pb === undefined) {
      // Past its last position a pattern scores SCORE_END, above everything: the longer one sorts first.
      return Math.sign((pa?.score ?? SCORE_END) - (pb?.score ?? SCORE_END));
    }
    const cmp = comparePositions(pa, pb);
    if (cmp !== 0) return cmp;
  }
}

/** Orders two single positions as `ext_cmp_pattern` does. */
export function comparePositions(a: PatternPosition, b: PatternPosition): number {
  if (a.score !== b.score) {
    return a.score < b.score ? -1 : 1;
  }
  if (a.kind === 'set' && b.kind === 'set' && a.chars !== b.chars) {
    // Same size and lowest member: pbx.c memcmp()s the bitmaps, which puts first the set holding the
    // lowest character the other lacks - the same as comparing the sorted member strings.
    return a.chars < b.chars ? -1 : 1;
  }
  return 0;
}
