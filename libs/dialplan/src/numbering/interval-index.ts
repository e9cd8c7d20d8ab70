/**
 * Digit-string intervals (`100`..`299`) bucketed by length, for O(log n) "who owns this number" lookups on the
 * call path. A number only falls in an interval of its own length: `0100` and `100` are different numbers.
 * The intervals of one index must not overlap (validation guarantees it for the tables the resolver uses);
 * `overlapping` finds the ones that do, for validation.
 */
export interface DigitInterval<T> {
  readonly from: string;
  readonly to: string;
  readonly value: T;
}

interface Bucket<T> {
  lo: Float64Array;
  hi: Float64Array;
  items: DigitInterval<T>[];
}

export class IntervalIndex<T> {
  private readonly buckets = new Map<number, Bucket<T>>();

  constructor(intervals: Iterable<DigitInterval<T>>) {
    const byLength = new Map<number, DigitInterval<T>[]>();
    for (const it of intervals) {
      const list = byLength.get(it.from.length) ?? [];
      list.push(it);
      byLength.set(it.from.length, list);
    }
    for (const [len, list] of byLength) {
      if (list.length > 1) list.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
      this.buckets.set(len, bucketOf(list));
    }
  }

  /**
   * This index with `removed` (by value) taken out and `added` put in, each bucket that changed copied and the
   * others shared: what `new IntervalIndex` gives for the resulting intervals in the order they were given, when
   * that order cannot matter. Undefined when it might - an added interval starting where another starts (the
   * order among equals is the input's), a length that had no bucket (buckets iterate in the input's order), a
   * removed value not found exactly once - for the caller to build afresh.
   */
  withChanges(added: readonly DigitInterval<T>[], removed: ReadonlySet<T>): IntervalIndex<T> | undefined {
    const changed = new Map<number, DigitInterval<T>[]>();
    let found = 0;
    // Nothing to look for when nothing is removed (a range added: the common plan change). An index loop: this runs
    // once per plan change, mostly before V8 optimizes it, and a for-of there allocates an iterator result per
    // element (1,000 ranges: ~32 KB of garbage per apply, promoted in a real agent and collected later).
    if (removed.size > 0) {
      for (const [len, bucket] of this.buckets) {
        const { items } = bucket;
        let hit = false;
        for (let k = 0; k < items.length; k++) {
          if (!removed.has((items[k] as DigitInterval<T>).value)) continue;
          found++;
          hit = true;
        }
        if (hit) changed.set(len, items.filter((it) => !removed.has(it.value)));
      }
    }
    if (found !== removed.size) return undefined;
    for (const it of added) {
      const len = it.from.length;
      const items = changed.get(len) ?? this.buckets.get(len)?.items.slice();
      if (items === undefined) return undefined;
      let left = 0;
      let right = items.length;
      while (left < right) {
        const mid = (left + right) >>> 1;
        if ((items[mid] as DigitInterval<T>).from < it.from) left = mid + 1;
        else right = mid;
      }
      if (items[left]?.from === it.from) return undefined;
      items.splice(left, 0, it);
      changed.set(len, items);
    }
    const out = new IntervalIndex<T>([]);
    for (const [len, bucket] of this.buckets) {
      const items = changed.get(len);
      if (items === undefined) out.buckets.set(len, bucket);
      else if (items.length > 0) out.buckets.set(len, bucketOf(items));
      else return undefined; // a bucket emptied: its place in the order would go (rare: build afresh)
    }
    return out;
  }

  /** Whether any interval has numbers of this many digits. */
  hasLength(length: number): boolean {
    return this.buckets.has(length);
  }

  /** The interval holding `digits` (the one starting last at or before it, when several would). */
  find(digits: string): DigitInterval<T> | undefined {
    const bucket = this.buckets.get(digits.length);
    if (bucket === undefined) return undefined;
    // Parse and check in one pass (hot path: no regex, no allocation).
    let n = 0;
    for (let i = 0; i < digits.length; i++) {
      const d = digits.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return undefined;
      n = n * 10 + d;
    }
    const { lo, hi } = bucket;
    let left = 0;
    let right = lo.length - 1;
    let found = -1;
    while (left <= right) {
      const mid = (left + right) >>> 1;
      if ((lo[mid] as number) <= n) {
        found = mid;
        left = mid + 1;
      } else right = mid - 1;
    }
    if (found >= 0 && (hi[found] as number) >= n) return bucket.items[found];
    return undefined;
  }

  /** Every pair of intervals that share at least one number (sweep per length). */
  overlapping(): Array<[DigitInterval<T>, DigitInterval<T>]> {
    const pairs: Array<[DigitInterval<T>, DigitInterval<T>]> = [];
    for (const bucket of this.buckets.values()) {
      const active: number[] = [];
      for (let i = 0; i < bucket.items.length; i++) {
        const lo = bucket.lo[i] as number;
        for (let k = active.length - 1; k >= 0; k--) {
          if ((bucket.hi[active[k] as number] as number) < lo) active.splice(k, 1);
        }
        for (const j of active) pairs.push([bucket.items[j] as DigitInterval<T>, bucket.items[i] as DigitInterval<T>]);
        active.push(i);
      }
    }
    return pairs;
  }

  *[Symbol.iterator](): IterableIterator<DigitInterval<T>> {
    for (const bucket of this.buckets.values()) yield* bucket.items;
  }
}

/** A bucket of intervals sorted by start, with their bounds as numbers for the binary search. */
function bucketOf<T>(items: DigitInterval<T>[]): Bucket<T> {
  // Filled by index: Float64Array.from with a map function goes through the iterator protocol, which showed in
  // every snapshot apply (a plan has an index per site).
  const lo = new Float64Array(items.length);
  const hi = new Float64Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as DigitInterval<T>;
    lo[i] = Number(item.from);
    hi[i] = Number(item.to);
  }
  return { lo, hi, items };
}

/** The common span of two same-length digit intervals, or undefined. */
export function intersectSpan(a: { from: string; to: string }, b: { from: string; to: string }): { from: string; to: string } | undefined {
  if (a.from.length !== b.from.length) return undefined;
  const from = a.from > b.from ? a.from : b.from;
  const to = a.to < b.to ? a.to : b.to;
  return from <= to ? { from, to } : undefined;
}
