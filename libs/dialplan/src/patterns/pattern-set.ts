import {
  compareExtensions,
  comparePositions,
  parsePattern,
  type ExtensionPattern,
  type PatternPosition,
} from './extension-pattern.js';

/** One extension name with what it leads to (a route, a destination, ...). */
export interface PatternEntry<T> {
  readonly pattern: ExtensionPattern;
  readonly value: T;
}

/** Input to `PatternSet`: the pattern may be given as text, parsed (and validated) on construction. */
export interface PatternSetInput<T> {
  readonly pattern: ExtensionPattern | string;
  readonly value: T;
}

/**
 * The extensions of one context, looked up the way Asterisk picks among them: the first, in `ext_cmp`
 * order, of those that match.
 *
 * Literals sit in a hash map: they always come first, and the ones matching a number are all the same
 * extension. Patterns sit in a trie whose edges are character sets. A depth-first search that tries a
 * node's edges in position order, then its `.` patterns, its `!` patterns and the patterns ending there
 * (scores: sets < 0x18000 < 0x28000 < end 0x30000) meets the matching patterns in `ext_cmp` order,
 * because that order is the lexicographic order of the positions. So the first hit is the answer.
 *
 * For speed the trie is flattened after building into a few typed arrays, nodes numbered depth-first
 * (a pattern's tail of `X`s lies contiguous in memory), with one 128-entry membership table per distinct
 * set shared by all its edges; subtrees that cannot fit the length left in the number are skipped. A
 * lookup allocates nothing unless the number contains `-`.
 * Entries with the same canonical name keep insertion order; the first one wins.
 */
export class PatternSet<T> {
  readonly size: number;
  private readonly literals = new Map<string, PatternEntry<T>[]>();
  private readonly trie: FlatTrie<T>;

  constructor(entries: Iterable<PatternSetInput<T>>) {
    const root = new BuildNode<T>();
    let size = 0;
    for (const input of entries) {
      const pattern = typeof input.pattern === 'string' ? parsePattern(input.pattern) : input.pattern;
      const entry: PatternEntry<T> = Object.freeze({ pattern, value: input.value });
      size += 1;
      if (pattern.isLiteral) {
        const same = this.literals.get(pattern.canonical);
        if (same) same.push(entry);
        else this.literals.set(pattern.canonical, [entry]);
      } else {
        insert(root, entry);
      }
    }
    this.size = size;
    this.trie = flatten(root);
  }

  /** The entry Asterisk would run for `dialled` (`-` skipped), or `undefined` when nothing matches. */
  bestMatch(dialled: string): PatternEntry<T> | undefined {
    const data = stripDashes(dialled);
    if (this.literals.size > 0) {
      const literal = this.literals.get(data);
      if (literal) return literal[0];
    }
    const found = findFirst(this.trie, 0, data, 0);
    return found < 0 ? undefined : this.trie.entries[found];
  }

  /** Every entry matching `dialled`, in the order Asterisk would consider them (best first). */
  allMatches(dialled: string): PatternEntry<T>[] {
    const data = stripDashes(dialled);
    const out: PatternEntry<T>[] = [...(this.literals.get(data) ?? [])];
    collect(this.trie, 0, data, 0, out);
    return out;
  }
}

function stripDashes(dialled: string): string {
  return dialled.indexOf('-') < 0 ? dialled : dialled.replaceAll('-', '');
}

// ---- building ----------------------------------------------------------------------------------------

type SetPosition = Extract<PatternPosition, { kind: 'set' }>;

class BuildNode<T> {
  /** Child per set, keyed by the set's member string; sorted into position order when flattened. */
  readonly children = new Map<string, { position: SetPosition; node: BuildNode<T> }>();
  /** Patterns continuing with `.` here (their later positions still order them). */
  readonly oneOrMore: PatternEntry<T>[] = [];
  /** Patterns continuing with `!` here. */
  readonly zeroOrMore: PatternEntry<T>[] = [];
  /** Patterns ending here: all the same extension, in insertion order. */
  readonly ends: PatternEntry<T>[] = [];
}

function insert<T>(root: BuildNode<T>, entry: PatternEntry<T>): void {
  let node = root;
  for (const position of entry.pattern.positions) {
    switch (position.kind) {
      case 'one-or-more':
        node.oneOrMore.push(entry);
        return;
      case 'zero-or-more':
        node.zeroOrMore.push(entry);
        return;
      case 'set': {
        let child = node.children.get(position.chars);
        if (!child) {
          child = { position, node: new BuildNode<T>() };
          node.children.set(position.chars, child);
        }
        node = child.node;
      }
    }
  }
  node.ends.push(entry);
}

// ---- the flat trie -----------------------------------------------------------------------------------

/** Per-node fields, `NODE_STRIDE` int32s per node. */
const EDGE_START = 0; // first edge in `edges`
const EDGE_END = 1;
const MIN_REMAINING = 2; // fewest further characters that can reach an entry in this subtree
const MAX_REMAINING = 3; // most (UNBOUNDED after a `.`/`!`)
const ONE_OR_MORE = 4; // entries of this node in `entries`: [ONE_OR_MORE, ZERO_OR_MORE) are `.`,
const ZERO_OR_MORE = 5; // [ZERO_OR_MORE, ENDS) are `!`,
const ENDS = 6; // [ENDS, ENDS_STOP) end here
const ENDS_STOP = 7;
const NODE_STRIDE = 8;
/** Per-edge fields: offset of the set's table in `tables`, and the child node's offset in `nodes`. */
const EDGE_TABLE = 0;
const EDGE_CHILD = 1;
const EDGE_STRIDE = 2;
const UNBOUNDED = 0x3fffffff;

interface FlatTrie<T> {
  readonly nodes: Int32Array;
  readonly edges: Int32Array;
  /** 128 bytes per distinct set: 1 where the character code is a member. */
  readonly tables: Uint8Array;
  /** All trie entries, each node's `.`, `!` and ending entries contiguous and in ext_cmp order. */
  readonly entries: readonly PatternEntry<T>[];
}

function flatten<T>(root: BuildNode<T>): FlatTrie<T> {
  const nodes: number[] = [];
  const edges: number[] = [];
  const tableOffsets = new Map<string, number>();
  const tableBytes: number[] = [];
  const entries: PatternEntry<T>[] = [];
  const byExtension = (a: PatternEntry<T>, b: PatternEntry<T>): number =>
    compareExtensions(a.pattern, b.pattern);

  const tableOf = (chars: string): number => {
    let offset = tableOffsets.get(chars);
    if (offset === undefined) {
      offset = tableBytes.length;
      tableOffsets.set(chars, offset);
      for (let c = 0; c < 128; c += 1) tableBytes.push(chars.includes(String.fromCharCode(c)) ? 1 : 0);
    }
    return offset;
  };

  /** Lays out `node` and its subtree depth-first; returns its offset in `nodes`. */
  const place = (node: BuildNode<T>): number => {
    const at = nodes.length;
    nodes.length += NODE_STRIDE;
    // Array.prototype.sort is stable: equal extensions keep insertion order.
    const oneStart = entries.length;
    append(entries, node.oneOrMore.sort(byExtension));
    const zeroStart = entries.length;
    append(entries, node.zeroOrMore.sort(byExtension));
    const endStart = entries.length;
    append(entries, node.ends);
    const endStop = entries.length;
    const children = [...node.children.values()].sort((a, b) => comparePositions(a.position, b.position));
    const edgeStart = edges.length;
    edges.length += children.length * EDGE_STRIDE;
    let min =
      node.ends.length > 0 || node.zeroOrMore.length > 0 ? 0 : node.oneOrMore.length > 0 ? 1 : UNBOUNDED;
    let max =
      node.oneOrMore.length > 0 || node.zeroOrMore.length > 0 ? UNBOUNDED : node.ends.length > 0 ? 0 : -1;
    children.forEach((child, k) => {
      const childAt = place(child.node);
      edges[edgeStart + k * EDGE_STRIDE + EDGE_TABLE] = tableOf(child.position.chars);
      edges[edgeStart + k * EDGE_STRIDE + EDGE_CHILD] = childAt;
      min = Math.min(min, (nodes[childAt + MIN_REMAINING] as number) + 1);
      max = Math.max(max, Math.min(UNBOUNDED, (nodes[childAt + MAX_REMAINING] as number) + 1));
    });
    nodes[at + EDGE_START] = edgeStart;
    nodes[at + EDGE_END] = edgeStart + children.length * EDGE_STRIDE;
    nodes[at + MIN_REMAINING] = min;
    nodes[at + MAX_REMAINING] = max;
    nodes[at + ONE_OR_MORE] = oneStart;
    nodes[at + ZERO_OR_MORE] = zeroStart;
    nodes[at + ENDS] = endStart;
    nodes[at + ENDS_STOP] = endStop;
    return at;
  };

  place(root);
  return {
    nodes: Int32Array.from(nodes),
    edges: Int32Array.from(edges),
    tables: Uint8Array.from(tableBytes),
    entries,
  };
}

function append<E>(to: E[], from: readonly E[]): void {
  for (const item of from) to.push(item);
}

// ---- lookups (hot path: indices are in range by construction, hence the `!`s) -------------------------

/** Depth-first search in ext_cmp order; the index in `entries` of the first match, or -1. */
function findFirst<T>(trie: FlatTrie<T>, node: number, data: string, i: number): number {
  const { nodes, edges, tables } = trie;
  const remaining = data.length - i;
  const zeroOrMore = nodes[node + ZERO_OR_MORE]!;
  const ends = nodes[node + ENDS]!;
  if (remaining === 0) {
    // Only `!` (zero or more) and the end of a pattern accept an exhausted number; `!` sorts first.
    return zeroOrMore < ends ? zeroOrMore : ends < nodes[node + ENDS_STOP]! ? ends : -1;
  }
  const c = data.charCodeAt(i);
  if (c < 128) {
    const stop = nodes[node + EDGE_END]!;
    for (let e = nodes[node + EDGE_START]!; e < stop; e += EDGE_STRIDE) {
      if (tables[edges[e + EDGE_TABLE]! + c] === 1) {
        const child = edges[e + EDGE_CHILD]!;
        if (remaining > nodes[child + MIN_REMAINING]! && remaining <= nodes[child + MAX_REMAINING]! + 1) {
          const found = findFirst(trie, child, data, i + 1);
          if (found >= 0) return found;
        }
      }
    }
  }
  // `.` needs at least one character - there is one; `!` accepts anything.
  const oneOrMore = nodes[node + ONE_OR_MORE]!;
  return oneOrMore < zeroOrMore ? oneOrMore : zeroOrMore < ends ? zeroOrMore : -1;
}

/** Same walk as `findFirst`, collecting every match in order. */
function collect<T>(trie: FlatTrie<T>, node: number, data: string, i: number, out: PatternEntry<T>[]): void {
  const { nodes, edges, tables, entries } = trie;
  const take = (from: number, to: number): void => {
    for (let k = from; k < to; k += 1) out.push(entries[k]!);
  };
  if (i === data.length) {
    take(nodes[node + ZERO_OR_MORE]!, nodes[node + ENDS_STOP]!);
    return;
  }
  const c = data.charCodeAt(i);
  if (c < 128) {
    for (let e = nodes[node + EDGE_START]!; e < nodes[node + EDGE_END]!; e += EDGE_STRIDE) {
      if (tables[edges[e + EDGE_TABLE]! + c] === 1) collect(trie, edges[e + EDGE_CHILD]!, data, i + 1, out);
    }
  }
  take(nodes[node + ONE_OR_MORE]!, nodes[node + ENDS]!);
}
