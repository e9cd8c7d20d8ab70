import type { Extension } from '@fedpbx/contracts';

/** What routing reads of an extension (no id, site or SIP secret: those are for the config renderers). */
export interface ExtensionView {
  readonly number: string;
  readonly displayName: string;
  readonly classOfServiceId: string | undefined;
  /** PJSIP endpoint name when it is not the number. */
  readonly endpoint: string | undefined;
  readonly voicemail: boolean;
  readonly ringTimeoutSec: number;
}

export interface ExtensionBucket {
  /** The numbers of this length as values (at most 15 digits: exact in a double), ascending. */
  readonly keys: Float64Array;
  /** Row of each key. */
  readonly rows: Uint32Array;
  /**
   * When the numbers fill their span densely (a PBX's ranges: see {@link directIndex}), the row of each number by
   * its offset from the first key (-1: none); the binary search otherwise.
   */
  readonly direct?: Int32Array | undefined;
}

/**
 * What a table is made of; each build makes new columns, and takes over the index and names when they are the same.
 * Plain data (typed arrays, strings, maps): a table built in a worker thread crosses to the event loop as its
 * columns (`ExtensionTable.columns`, `ExtensionTable.fromColumns`), the typed arrays' buffers moved, not copied.
 */
export interface ExtensionColumns {
  readonly buckets: ReadonlyMap<number, ExtensionBucket>;
  readonly size: number;
  readonly ringTimeoutSec: Uint16Array;
  readonly voicemail: Uint8Array;
  /** Index into `classIds` (0: none). */
  readonly classOf: Uint16Array;
  readonly classIds: readonly (string | undefined)[];
  /** Display names back to back; row i is `names.slice(nameEnd[i - 1], nameEnd[i])`. */
  readonly names: string;
  readonly nameEnd: Uint32Array;
  /** Endpoint names by row, for the few extensions whose endpoint is not their number. */
  readonly endpoints: ReadonlyMap<number, string>;
  /** Each row's number as a value and its length: the next build compares its rows with these. */
  readonly values: Float64Array;
  readonly lengths: Uint8Array;
}

export interface ExtensionTableBuild {
  /** Only the extensions of this site (a site's config holds only its own; this spares the caller a filtered copy). */
  readonly siteId?: string;
  /**
   * The table compiled from the snapshot before. When every row has the same number as there, its number index
   * (the sort) is taken over; when every display name is the same too, its names. A head office's change of one
   * phone then costs a pass over the rows, not a sort and a 100,000-string join.
   */
  readonly previous?: ExtensionTable;
  /** Rows between two yields of {@link ExtensionTable.building}. */
  readonly rowsPerSlice?: number;
}

/** ~1-2 ms of a build on the development machine. */
export const EXTENSION_ROWS_PER_SLICE = 10_000;

const NO_CLASS = 0;
/** Doubles are exact integers up to 2^53. */
const EXACT = 2 ** 53;
/** The longest number (contracts' `Digits`). */
const MAX_DIGITS = 15;

/**
 * One site's extensions by number, in columns: a head office has 100,000 of them, and as parsed objects (ids,
 * SIP secrets, names and numbers as separate strings) they were most of the agent's heap. Here a number is found
 * by binary search in a typed array per number length, and its fields sit in typed arrays and one string of
 * display names: ~40 bytes an extension instead of ~350, and nothing for the garbage collector to trace.
 * A lookup builds one small {@link ExtensionView}.
 */
export class ExtensionTable {
  /** Distinct numbers. */
  readonly size: number;

  private constructor(private readonly c: ExtensionColumns) {
    this.size = c.size;
  }

  /** The table of `extensions` at once. A repeated number keeps the first (validation makes them distinct within a site). */
  static of(extensions: readonly Extension[], build: Omit<ExtensionTableBuild, 'rowsPerSlice'> = {}): ExtensionTable {
    return runToEnd(ExtensionTable.building(extensions, build));
  }

  /**
   * The table built a slice of rows at a time, yielding between slices (the sort of the index is one step: a
   * native sort of one typed array, a few ms for 100,000 numbers). Nothing is visible before it returns.
   */
  static *building(extensions: readonly Extension[], build: ExtensionTableBuild = {}): Generator<void, ExtensionTable> {
    const { siteId, previous, rowsPerSlice = EXTENSION_ROWS_PER_SLICE } = build;
    const rows = new RowScan(extensions.length, siteId, previous?.c);
    for (let from = 0; from < extensions.length; from += rowsPerSlice) {
      if (from > 0) yield;
      rows.scan(extensions, from, Math.min(extensions.length, from + rowsPerSlice));
    }
    const before = rows.before;
    const sameNumbers = before !== undefined && rows.sameNumbers && rows.n === before.values.length;
    const sameNames = before !== undefined && rows.sameNames && rows.n === before.values.length;
    const values = rows.trim(rows.values);
    const lengths = rows.trim(rows.lengths);
    let buckets: ReadonlyMap<number, ExtensionBucket>;
    let size: number;
    if (sameNumbers) ({ buckets, size } = before);
    else {
      yield;
      ({ buckets, size } = numberIndex(values, lengths));
    }
    return new ExtensionTable({
      buckets,
      size,
      ringTimeoutSec: rows.trim(rows.ringTimeoutSec),
      voicemail: rows.trim(rows.voicemail),
      classOf: rows.trim(rows.classOf),
      classIds: rows.classIds,
      // One flat string, not 100,000 small ones.
      names: sameNames ? before.names : rows.nameChunks.join(''),
      nameEnd: sameNames ? before.nameEnd : rows.trim(rows.nameEnd),
      endpoints: rows.endpoints,
      values,
      lengths,
    });
  }

  /** A table from the columns of one (built elsewhere: a worker thread). */
  static fromColumns(columns: ExtensionColumns): ExtensionTable {
    return new ExtensionTable(columns);
  }

  /**
   * What this table is made of, to post to another thread; `transfer` lists the buffers to move with it (this table
   * is unusable once they are moved: a worker's table, posted as it ends).
   */
  columns(): { readonly columns: ExtensionColumns; readonly transfer: ArrayBuffer[] } {
    const c = this.c;
    const arrays = [c.ringTimeoutSec, c.voicemail, c.classOf, c.nameEnd, c.values, c.lengths, ...[...c.buckets.values()].flatMap((b) => (b.direct === undefined ? [b.keys, b.rows] : [b.keys, b.rows, b.direct]))];
    // A column cut from a larger one (trim) shares its buffer: each buffer once. Each distinct buffer is moved.
    return { columns: c, transfer: [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))] };
  }

  /**
   * Each row's number and its endpoint name when that is not the number, in the rows' order (the config's): for
   * readers that need every extension (presence), without an object per extension. A repeated number comes once
   * per row, as in the config.
   */
  forEachExtension(visit: (number: string, endpoint: string | undefined) => void): void {
    const c = this.c;
    for (let row = 0; row < c.values.length; row++) {
      visit(digitsOf(c.values[row] as number, c.lengths[row] as number), c.endpoints.get(row));
    }
  }

  has(number: string): boolean {
    return this.rowOf(number) >= 0;
  }

  get(number: string): ExtensionView | undefined {
    const row = this.rowOf(number);
    if (row < 0) return undefined;
    const c = this.c;
    const cls = c.classOf[row] as number;
    return {
      number,
      displayName: this.displayNameAt(row),
      classOfServiceId: cls === NO_CLASS ? undefined : c.classIds[cls],
      endpoint: c.endpoints.get(row),
      voicemail: c.voicemail[row] === 1,
      ringTimeoutSec: c.ringTimeoutSec[row] as number,
    };
  }

  /**
   * The row of `number`, -1 when there is none: its fields are read with the `...At` methods. For the call path,
   * which reads three fields of the callee before its first command: no view object, no display name cut out.
   */
  row(number: string): number {
    return this.rowOf(number);
  }

  /** The PJSIP endpoint of the extension at `row` when it is not its number. */
  endpointAt(row: number): string | undefined {
    return this.c.endpoints.get(row);
  }

  ringTimeoutAt(row: number): number {
    return this.c.ringTimeoutSec[row] as number;
  }

  voicemailAt(row: number): boolean {
    return this.c.voicemail[row] === 1;
  }

  displayNameAt(row: number): string {
    const c = this.c;
    return c.names.slice(row === 0 ? 0 : c.nameEnd[row - 1], c.nameEnd[row]);
  }

  /** The class of service of `number`, without building a view (checked on every call for the caller). */
  classOfServiceOf(number: string): string | undefined {
    const row = this.rowOf(number);
    return row < 0 ? undefined : this.c.classIds[this.c.classOf[row] as number];
  }

  /** Whether this table's number index was taken over from `other` (tests: a rename must not sort again). */
  sharesIndexWith(other: ExtensionTable): boolean {
    return this.c.buckets === other.c.buckets;
  }

  private rowOf(number: string): number {
    const bucket = this.c.buckets.get(number.length);
    if (bucket === undefined) return -1;
    // Parse and check in one pass: digits only (hot path: no regex, no allocation).
    let v = 0;
    for (let i = 0; i < number.length; i++) {
      const d = number.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    const { keys, rows, direct } = bucket;
    if (direct !== undefined) {
      // One read where the search makes ~17 (100,000 numbers), each a cache miss once the caches went cold between calls.
      const at = v - (keys[0] as number);
      return at >= 0 && at < direct.length ? (direct[at] as number) : -1;
    }
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid] as number;
      if (k === v) return rows[mid] as number;
      if (k < v) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/**
 * The columns filled row by row, a slice at a time. A method of its own, not the body of the generator: V8 does not
 * optimize a loop inside a generator while it runs (no on-stack replacement there), and a head office's 100,000
 * rows then ran interpreted.
 */
class RowScan {
  readonly ringTimeoutSec: Uint16Array;
  readonly voicemail: Uint8Array;
  readonly classOf: Uint16Array;
  readonly nameEnd: Uint32Array;
  readonly values: Float64Array;
  readonly lengths: Uint8Array;
  readonly classIds: (string | undefined)[] = [undefined];
  readonly endpoints = new Map<number, string>();
  /** The display names, joined a slice at a time (a join of 100,000 strings at once is one long step). */
  readonly nameChunks: string[] = [];
  /** Whether every row so far has the number (and the display name) of the same row in `before`. */
  sameNumbers: boolean;
  sameNames: boolean;
  /** Rows so far. */
  n = 0;
  private readonly classIndex = new Map<string, number>();
  private end = 0;

  constructor(
    private readonly total: number,
    private readonly siteId: string | undefined,
    readonly before: ExtensionColumns | undefined,
  ) {
    this.ringTimeoutSec = new Uint16Array(total);
    this.voicemail = new Uint8Array(total);
    this.classOf = new Uint16Array(total);
    this.nameEnd = new Uint32Array(total);
    this.values = new Float64Array(total);
    this.lengths = new Uint8Array(total);
    this.sameNumbers = this.sameNames = before !== undefined;
  }

  scan(extensions: readonly Extension[], from: number, to: number): void {
    const before = this.before;
    const names = new Array<string>(to - from);
    let named = 0;
    for (let i = from; i < to; i++) {
      const e = extensions[i] as Extension;
      if (this.siteId !== undefined && e.siteId !== this.siteId) continue;
      const row = this.n++;
      this.ringTimeoutSec[row] = e.ringTimeoutSec;
      this.voicemail[row] = e.voicemail ? 1 : 0;
      if (e.classOfServiceId !== undefined) this.classOf[row] = this.classNumber(e.classOfServiceId);
      if (e.endpoint !== undefined && e.endpoint !== e.number) this.endpoints.set(row, e.endpoint);
      const name = e.displayName;
      names[named++] = name;
      const end = (this.end += name.length);
      this.nameEnd[row] = end;
      const value = digitsValue(e.number);
      this.values[row] = value;
      this.lengths[row] = e.number.length;
      if (before !== undefined) {
        // Row by row against the table before: no allocation (a name is compared in place in its joined string).
        this.sameNumbers &&= row < before.values.length && before.values[row] === value && before.lengths[row] === e.number.length;
        this.sameNames &&= row < before.nameEnd.length && before.nameEnd[row] === end && before.names.startsWith(name, end - name.length);
      }
    }
    names.length = named;
    this.nameChunks.push(names.join(''));
  }

  /** A column cut to the rows taken (a site's config holds only its own extensions: no copy then). */
  trim<A extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(column: A): A {
    return this.n === this.total ? column : (column.slice(0, this.n) as A);
  }

  private classNumber(id: string): number {
    let c = this.classIndex.get(id);
    if (c === undefined) {
      c = this.classIds.length;
      this.classIds.push(id);
      this.classIndex.set(id, c);
    }
    return c;
  }
}

/**
 * Rows by number, per number length, ascending; of a repeated number the first row. The rows are grouped by length
 * into one Float64Array of `value * 2^k + row`, and each length's part sorted natively - no comparator called 1.7
 * million times for 100,000 rows, no per-row array - when that stays an exact integer (numbers up to 10 digits
 * with a million rows); else by comparator.
 */
function numberIndex(values: Float64Array, lengths: Uint8Array): { buckets: Map<number, ExtensionBucket>; size: number } {
  const n = values.length;
  // Digits are 1-15 long (contracts' Digits): a counting sort by length.
  const start = new Uint32Array(MAX_DIGITS + 2);
  let maxValue = 0;
  for (let row = 0; row < n; row++) {
    (start[(lengths[row] as number) + 1] as number)++;
    if ((values[row] as number) > maxValue) maxValue = values[row] as number;
  }
  for (let length = 1; length < start.length; length++) (start[length] as number) += start[length - 1] as number;
  let rowSpan = 1;
  while (rowSpan < n) rowSpan *= 2;
  const packable = (maxValue + 1) * rowSpan <= EXACT;
  const grouped = new Float64Array(n);
  const fill = start.slice();
  for (let row = 0; row < n; row++) {
    const length = lengths[row] as number;
    grouped[(fill[length] as number)++] = packable ? (values[row] as number) * rowSpan + row : row;
  }
  const buckets = new Map<number, ExtensionBucket>();
  let size = 0;
  for (let length = 1; length <= MAX_DIGITS; length++) {
    const part = grouped.subarray(start[length], start[length + 1]);
    if (part.length === 0) continue;
    let sorted: Uint32Array;
    if (packable) {
      part.sort();
      sorted = new Uint32Array(part.length);
      for (let i = 0; i < part.length; i++) sorted[i] = (part[i] as number) % rowSpan;
    } else {
      sorted = Uint32Array.from(part).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
    }
    // Of equal numbers, the first row sorts first: keep it, drop the others.
    let distinct = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || values[sorted[i] as number] !== values[sorted[i - 1] as number]) distinct++;
    const keys = new Float64Array(distinct);
    const kept = new Uint32Array(distinct);
    let k = 0;
    for (let i = 0; i < sorted.length; i++) {
      const row = sorted[i] as number;
      if (i > 0 && values[row] === values[sorted[i - 1] as number]) continue;
      keys[k] = values[row] as number;
      kept[k++] = row;
    }
    buckets.set(length, { keys, rows: kept, direct: directIndex(keys, kept) });
    size += distinct;
  }
  return { buckets, size };
}

/** Numbers per slot of a direct index at least (one in two): it then costs at most twice the keys' 8 bytes a number. */
const DIRECT_MIN_DENSITY = 0.5;
/** The longest direct index (4 MB): a sparse or huge span keeps the binary search. */
const DIRECT_MAX_SPAN = 1 << 20;

/**
 * The row of each number of a bucket by its offset from the first (-1 where no number is), when the numbers are
 * dense in their span: a number is then found with one read. Undefined for a sparse or too wide span.
 */
function directIndex(keys: Float64Array, rows: Uint32Array): Int32Array | undefined {
  if (keys.length === 0) return undefined;
  const first = keys[0] as number;
  const span = (keys[keys.length - 1] as number) - first + 1;
  if (span > DIRECT_MAX_SPAN || keys.length < span * DIRECT_MIN_DENSITY) return undefined;
  const direct = new Int32Array(span).fill(-1);
  for (let i = 0; i < keys.length; i++) direct[(keys[i] as number) - first] = rows[i] as number;
  return direct;
}

/** The value of a string of digits (validated: 1-15 of them, exact in a double). */
function digitsValue(digits: string): number {
  let v = 0;
  for (let i = 0; i < digits.length; i++) v = v * 10 + (digits.charCodeAt(i) - 48);
  return v;
}

/** The string of digits of `length` whose value is `value` (leading zeros put back). */
function digitsOf(value: number, length: number): string {
  return String(value).padStart(length, '0');
}

/** A build run to its end at once. */
export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}
