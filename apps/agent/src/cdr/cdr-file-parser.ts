/**
 * Reads the records res_cdrel_custom appends to the CDR file in `format = json` (see cdr-columns.ts for what
 * Asterisk writes and why it is not plain JSON). Pure: bytes in, records out; the file and the cursor are the
 * caller's ({@link CdrFileSource}).
 *
 * A record is read by its known layout, column by column, not by lines: a quoted value ends at the first
 * `","<next column>":` (for the last column, a number, at `}` + LF). Inside a value every `"` has a backslash put
 * before it, so `,"` - and therefore a column boundary or a record start `{"uniqueid":` - can never occur inside
 * one; a value with a raw LF, a trailing backslash or `"}` in it is read whole. Unescaping is removing the one
 * backslash in front of each `"`, which is exactly what quote_escaper added.
 *
 * What Asterisk can leave that is not a whole record (a crash in the middle of fputs, a hand edit) is skipped up
 * to the next record start and reported with its byte range; bytes after the last complete record are left for
 * the next read, unless more than {@link MAX_RECORD_BYTES} of them have no record in them.
 */
import { CDR_COLUMNS, type CdrColumnKey } from './cdr-columns.js';

/** A record's values by column, unescaped; numbers as the digits Asterisk printed. */
export type CdrFileRecord = ReadonlyMap<CdrColumnKey, string>;

export interface CdrFileRejected {
  /** Byte range in the buffer. */
  readonly start: number;
  readonly end: number;
  readonly reason: string;
}

export interface CdrFileParseResult {
  readonly records: readonly { readonly record: CdrFileRecord; readonly start: number; readonly end: number }[];
  readonly rejected: readonly CdrFileRejected[];
  /** Bytes read (whole records and rejected ranges); the rest is an unfinished record. */
  readonly consumed: number;
  /** Records passed over whole because `skip` said so (not in `records`). */
  readonly skipped: number;
}

export interface CdrFileParseOptions {
  /**
   * Asked with a record's raw uniqueid (unescaped, untrimmed) and sequence digits before the record is read column
   * by column: true passes over it (counted in `skipped`). The CDR file source asks whether the CDR is stored
   * already - nearly every record is, from its live AMI event - so those cost a few searches instead of decoding
   * ~25 values (bench:cdr-trickle profile). A record passed over is not checked beyond its two ids and its end.
   */
  readonly skip?: (uniqueId: string, sequence: string) => boolean;
}

/** Far above any record Asterisk writes (a few hundred bytes); bounds what an unfinished tail may hold back. */
export const MAX_RECORD_BYTES = 64 * 1024;

const QUOTE = 0x22;
const RECORD_START = Buffer.from(`{"${CDR_COLUMNS[0]!.file}":`, 'utf8');
/** What follows each column's value: the next column's name, or the record's end after the last. */
const TERMINATORS: readonly Buffer[] = CDR_COLUMNS.map((_, i) => Buffer.from(i + 1 < CDR_COLUMNS.length ? `,"${CDR_COLUMNS[i + 1]!.file}":` : '}\n', 'utf8'));
/** The same, with the closing quote of a string value in front. */
const QUOTED_TERMINATORS: readonly Buffer[] = TERMINATORS.map((t) => Buffer.concat([Buffer.from('"'), t]));
const NUMBER = /^-?\d{1,20}(?:\.\d{1,9})?/;

type Step = { readonly kind: 'record'; readonly record: Map<CdrColumnKey, string>; readonly end: number } | { readonly kind: 'incomplete' } | { readonly kind: 'bad'; readonly reason: string };

export function parseCdrFileRecords(buf: Buffer, opts: CdrFileParseOptions = {}): CdrFileParseResult {
  const records: { record: CdrFileRecord; start: number; end: number }[] = [];
  const rejected: CdrFileRejected[] = [];
  let skipped = 0;
  let p = 0;
  while (p < buf.length) {
    if (!startsAt(buf, p, RECORD_START)) {
      const next = buf.indexOf(RECORD_START, p + 1);
      if (next < 0) {
        // Only a lone LF (or nothing) after a record is normal; anything else waits to see what follows it.
        if (buf.length - p > MAX_RECORD_BYTES) {
          rejected.push({ start: p, end: buf.length, reason: `${buf.length - p} bytes without a record start` });
          p = buf.length;
        }
        break;
      }
      rejected.push({ start: p, end: next, reason: 'bytes that are not a cdr_custom record' });
      p = next;
      continue;
    }
    if (opts.skip !== undefined) {
      const ids = peekIds(buf, p);
      if (ids !== undefined && opts.skip(ids.uniqueId, ids.sequence)) {
        skipped++;
        p = ids.end;
        continue;
      }
    }
    const step = readRecord(buf, p);
    if (step.kind === 'record') {
      records.push({ record: step.record, start: p, end: step.end });
      p = step.end;
      continue;
    }
    const next = buf.indexOf(RECORD_START, p + 1);
    if (step.kind === 'incomplete' && next < 0) {
      if (buf.length - p > MAX_RECORD_BYTES) {
        rejected.push({ start: p, end: buf.length, reason: `record longer than ${MAX_RECORD_BYTES} bytes` });
        p = buf.length;
      }
      break;
    }
    // A record cut short (Asterisk stopped in the middle of it) is followed by the next record's start.
    const end = next < 0 ? buf.length : next;
    rejected.push({ start: p, end, reason: step.kind === 'bad' ? step.reason : 'record cut short' });
    p = end;
  }
  return { records, rejected, consumed: p, skipped };
}

const SEQUENCE_AT = TERMINATORS[CDR_COLUMNS.length - 2]!;
const RECORD_END = TERMINATORS[CDR_COLUMNS.length - 1]!;

/**
 * The uniqueid (first column) and sequence (last) of the whole record at `start`, and where it ends; undefined when
 * the record is not complete in `buf` or not laid out as expected (then it is read column by column). Sound because
 * `,"` cannot occur inside a value (every `"` in one is escaped): `","linkedid":` ends the first value and
 * `,"sequence":` starts the last column, and neither is searched past the next record's start.
 */
function peekIds(buf: Buffer, start: number): { uniqueId: string; sequence: string; end: number } | undefined {
  const q = start + RECORD_START.length;
  if (buf[q] !== QUOTE) return undefined;
  const next = buf.indexOf(RECORD_START, start + 1);
  const limit = next < 0 ? buf.length : next;
  const closing = buf.indexOf(QUOTED_TERMINATORS[0]!, q + 1);
  if (closing < 0 || closing >= limit) return undefined;
  const at = buf.indexOf(SEQUENCE_AT, closing);
  if (at < 0 || at >= limit) return undefined;
  let digitsEnd = at + SEQUENCE_AT.length;
  while (digitsEnd < limit && digitsEnd - at - SEQUENCE_AT.length < 20 && buf[digitsEnd]! >= 0x30 && buf[digitsEnd]! <= 0x39) digitsEnd++;
  if (digitsEnd === at + SEQUENCE_AT.length || !startsAt(buf, digitsEnd, RECORD_END) || digitsEnd + RECORD_END.length > limit) return undefined;
  return { uniqueId: buf.toString('utf8', q + 1, closing).replaceAll('\\"', '"'), sequence: buf.toString('latin1', at + SEQUENCE_AT.length, digitsEnd), end: digitsEnd + RECORD_END.length };
}

function readRecord(buf: Buffer, start: number): Step {
  const record = new Map<CdrColumnKey, string>();
  let q = start + RECORD_START.length;
  for (let i = 0; i < CDR_COLUMNS.length; i++) {
    const column = CDR_COLUMNS[i]!;
    const term = TERMINATORS[i]!;
    if (q >= buf.length) return { kind: 'incomplete' };
    let valueEnd: number;
    if (column.type === 'string') {
      if (buf[q] !== QUOTE) return { kind: 'bad', reason: `${column.file}: expected a quoted value` };
      // The closing quote is the one right before the terminator.
      const closing = buf.indexOf(QUOTED_TERMINATORS[i]!, q + 1);
      if (closing < 0) return { kind: 'incomplete' };
      const restart = buf.indexOf(RECORD_START, q);
      if (restart >= 0 && restart < closing) return { kind: 'bad', reason: `${column.file}: record cut short` };
      record.set(column.key, buf.toString('utf8', q + 1, closing).replaceAll('\\"', '"'));
      valueEnd = closing + 1;
    } else {
      const head = buf.toString('latin1', q, Math.min(buf.length, q + 32));
      const m = NUMBER.exec(head);
      if (m === null) return head === '-' ? { kind: 'incomplete' } : { kind: 'bad', reason: `${column.file}: expected a number` };
      // The digits may continue in bytes not written yet.
      if (q + m[0].length >= buf.length) return { kind: 'incomplete' };
      record.set(column.key, m[0]);
      valueEnd = q + m[0].length;
    }
    if (buf.length - valueEnd < term.length) return startsAt(term, 0, buf.subarray(valueEnd)) ? { kind: 'incomplete' } : { kind: 'bad', reason: `${column.file}: unexpected text after the value` };
    if (!startsAt(buf, valueEnd, term)) return { kind: 'bad', reason: `${column.file}: unexpected text after the value` };
    q = valueEnd + term.length;
  }
  return { kind: 'record', record, end: q };
}

function startsAt(buf: Buffer, at: number, what: Buffer): boolean {
  if (at + what.length > buf.length) return false;
  return buf.compare(what, 0, what.length, at, at + what.length) === 0;
}
