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

interface Bucket {
  /** The numbers of this length as values (at most 15 digits: exact in a double), ascending. */
  readonly keys: Float64Array;
  /** Row of each key. */
  readonly rows: Uint32Array;
}

const NO_CLASS = 0;

/**
 * One site's extensions by number, in columns: a head office has 100,000 of them, and as parsed objects (ids,
 * SIP secrets, names and numbers as separate strings) they were most of the agent's heap. Here a number is found
 * by binary search in a typed array per number length, and its fields sit in typed arrays and one string of
 * display names: ~30 bytes an extension instead of ~350, and nothing for the garbage collector to trace.
 * A lookup builds one small {@link ExtensionView}.
 */
export class ExtensionTable {
  private readonly buckets = new Map<number, Bucket>();
  private readonly ringTimeoutSec: Uint16Array;
  private readonly voicemail: Uint8Array;
  /** Index into `classIds` (0: none). */
  private readonly classOf: Uint16Array;
  private readonly classIds: (string | undefined)[] = [undefined];
  /** Display names back to back; row i is `names.slice(nameEnd[i - 1], nameEnd[i])`. */
  private readonly names: string;
  private readonly nameEnd: Uint32Array;
  /** Endpoint names by row, for the few extensions whose endpoint is not their number. */
  private readonly endpoints = new Map<number, string>();
  readonly size: number;

  /** `extensions` must have distinct numbers (validation guarantees it within a site); a repeated number keeps the first. */
  constructor(extensions: readonly Extension[]) {
    const n = extensions.length;
    this.ringTimeoutSec = new Uint16Array(n);
    this.voicemail = new Uint8Array(n);
    this.classOf = new Uint16Array(n);
    this.nameEnd = new Uint32Array(n);
    const classIndex = new Map<string, number>();
    const byLength = new Map<number, number[]>();
    const names: string[] = [];
    const values = new Float64Array(n);
    let end = 0;
    for (let row = 0; row < n; row++) {
      const e = extensions[row] as Extension;
      this.ringTimeoutSec[row] = e.ringTimeoutSec;
      this.voicemail[row] = e.voicemail ? 1 : 0;
      if (e.classOfServiceId !== undefined) {
        let c = classIndex.get(e.classOfServiceId);
        if (c === undefined) {
          c = this.classIds.length;
          this.classIds.push(e.classOfServiceId);
          classIndex.set(e.classOfServiceId, c);
        }
        this.classOf[row] = c;
      }
      if (e.endpoint !== undefined && e.endpoint !== e.number) this.endpoints.set(row, e.endpoint);
      names.push(e.displayName);
      end += e.displayName.length;
      this.nameEnd[row] = end;
      values[row] = Number(e.number);
      let list = byLength.get(e.number.length);
      if (list === undefined) byLength.set(e.number.length, (list = []));
      list.push(row);
    }
    // One flat string, not 100,000 small ones.
    this.names = names.join('');
    let size = 0;
    for (const [length, rows] of byLength) {
      rows.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
      const keys: number[] = [];
      const kept: number[] = [];
      for (const row of rows) {
        const v = values[row] as number;
        if (keys.length > 0 && keys[keys.length - 1] === v) continue;
        keys.push(v);
        kept.push(row);
      }
      this.buckets.set(length, { keys: Float64Array.from(keys), rows: Uint32Array.from(kept) });
      size += kept.length;
    }
    this.size = size;
  }

  has(number: string): boolean {
    return this.rowOf(number) >= 0;
  }

  get(number: string): ExtensionView | undefined {
    const row = this.rowOf(number);
    if (row < 0) return undefined;
    const cls = this.classOf[row] as number;
    return {
      number,
      displayName: this.names.slice(row === 0 ? 0 : this.nameEnd[row - 1], this.nameEnd[row]),
      classOfServiceId: cls === NO_CLASS ? undefined : this.classIds[cls],
      endpoint: this.endpoints.get(row),
      voicemail: this.voicemail[row] === 1,
      ringTimeoutSec: this.ringTimeoutSec[row] as number,
    };
  }

  /** The class of service of `number`, without building a view (checked on every call for the caller). */
  classOfServiceOf(number: string): string | undefined {
    const row = this.rowOf(number);
    return row < 0 ? undefined : this.classIds[this.classOf[row] as number];
  }

  private rowOf(number: string): number {
    const bucket = this.buckets.get(number.length);
    if (bucket === undefined) return -1;
    // Parse and check in one pass: digits only (hot path: no regex, no allocation).
    let v = 0;
    for (let i = 0; i < number.length; i++) {
      const d = number.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    const { keys, rows } = bucket;
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
