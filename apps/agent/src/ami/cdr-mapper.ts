/**
 * `Event: Cdr` (cdr_manager) -> the CdrEvent the agent reports. Everything comes from the Cdr event alone: the
 * route tags the agent set on the channel travel in it through cdr_manager.conf `[mappings]`
 * (deploy/asterisk/cdr_manager.conf, checked against the one column list in cdr/cdr-columns.ts), so nothing depends
 * on the order of Cdr and Hangup, which varies (fixture ami-09-events-call-cdr.json).
 */
import type { AmiHeaders } from '@fedpbx/asterisk';
import { CDR_COLUMNS, type CdrColumnKey } from '../cdr/cdr-columns.js';
import { cdrFromColumns, isoTime, type CdrMapResult } from '../cdr/cdr-record.js';

export type { CdrMapResult } from '../cdr/cdr-record.js';

/** Each column's index in CDR_COLUMNS, by its AMI header lower-cased (header names compare case-insensitively, as astman_get_header() does). */
const COLUMN_OF_HEADER = new Map<string, number>(CDR_COLUMNS.map((c, i) => [c.ami.toLowerCase(), i]));
const INDEX_OF_KEY = new Map<CdrColumnKey, number>(CDR_COLUMNS.map((c, i) => [c.key, i]));
const NOT_A_COLUMN = -1;

/**
 * A header name as it comes -> its column's index (or NOT_A_COLUMN), remembered: cdr_manager writes the same ~35
 * names in every event, and lower-casing each of them per event was most of the header pass. Bounded like isoTimes.
 */
const columnOfName = new Map<string, number>();
function columnOf(name: string): number {
  let index = columnOfName.get(name);
  if (index === undefined) {
    index = COLUMN_OF_HEADER.get(name.toLowerCase()) ?? NOT_A_COLUMN;
    if (columnOfName.size >= 256) columnOfName.clear();
    columnOfName.set(name, index);
  }
  return index;
}

/**
 * cdr_manager writes times as `YYYY-MM-DD HH:MM:SS` in Asterisk's local time without an offset (empty for a call
 * never answered); the agent runs on the same host, so they are read in the process's local time zone.
 */
export function parseCdrTime(text: string | undefined): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec((text ?? '').trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * cdr_manager's time text -> the CdrEvent's ISO time, remembered: calls ending at 50/s share their end second (and
 * often their start second), and the local-time conversion was a sixth of the mapping's CPU. Bounded: forgotten
 * whole when full.
 */
const isoTimes = new Map<string, string | undefined>();
function isoTimeOf(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined;
  if (isoTimes.has(text)) return isoTimes.get(text);
  const iso = isoTime(parseCdrTime(text));
  if (isoTimes.size >= 256) isoTimes.clear();
  isoTimes.set(text, iso);
  return iso;
}

export function mapCdr(headers: AmiHeaders): CdrMapResult {
  // One pass over the event's headers into the columns (the first of a repeated name wins, as in AmiHeaders.get)
  // instead of a search through all of them for each of the ~25 columns.
  const values: (string | undefined)[] = new Array<string | undefined>(CDR_COLUMNS.length).fill(undefined);
  for (const { key, value } of headers.list) {
    const index = columnOf(key);
    if (index !== NOT_A_COLUMN && values[index] === undefined) values[index] = value;
  }
  const value = (key: CdrColumnKey): string | undefined => values[INDEX_OF_KEY.get(key)!];
  return cdrFromColumns(value, (key) => isoTimeOf(value(key)));
}
