/**
 * `Event: Cdr` (cdr_manager) -> the CdrEvent the agent reports. Everything comes from the Cdr event alone: the
 * route tags the agent set on the channel travel in it through cdr_manager.conf `[mappings]`
 * (deploy/asterisk/cdr_manager.conf, checked against the one column list in cdr/cdr-columns.ts), so nothing depends
 * on the order of Cdr and Hangup, which varies (fixture ami-09-events-call-cdr.json).
 */
import type { AmiHeaders } from '@fedpbx/asterisk';
import { CDR_COLUMNS, type CdrColumnKey } from '../cdr/cdr-columns.js';
import { cdrFromColumns, type CdrMapResult } from '../cdr/cdr-record.js';

export type { CdrMapResult } from '../cdr/cdr-record.js';

const AMI_HEADER = new Map<CdrColumnKey, string>(CDR_COLUMNS.map((c) => [c.key, c.ami]));

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

export function mapCdr(headers: AmiHeaders): CdrMapResult {
  const value = (key: CdrColumnKey): string | undefined => headers.get(AMI_HEADER.get(key)!);
  return cdrFromColumns(value, (key) => parseCdrTime(value(key)));
}
