/**
 * `Event: Cdr` (cdr_manager) -> the CdrEvent the agent reports. Everything comes from the Cdr event alone: the
 * route tags the agent set on the channel travel in it through cdr_manager.conf `[mappings]`
 * (deploy/asterisk/cdr_manager.conf), so nothing depends on the order of Cdr and Hangup, which varies
 * (fixture ami-09-events-call-cdr.json).
 */
import { CdrEvent, ObjectId, RouteKind, SiteId } from '@fedpbx/contracts';
import type { AmiHeaders } from '@fedpbx/asterisk';

/**
 * Header names the `[mappings]` give the agent's channel variables and the extra CDR fields (left: `${CDR(x)}`,
 * right: header). Keep in step with deploy/asterisk/cdr_manager.conf.
 */
export const CDR_MAPPED_HEADERS = {
  route: 'FEDPBX_ROUTE',
  origin: 'FEDPBX_ORIGIN',
  target: 'FEDPBX_TARGET',
  trunk: 'FEDPBX_TRUNK',
  revision: 'FEDPBX_REVISION',
  recording: 'FEDPBX_REC_FILE',
  linkedId: 'LinkedID',
  sequence: 'Sequence',
} as const;

const DISPOSITIONS = new Set(['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION']);

export type CdrMapResult = { readonly ok: true; readonly cdr: CdrEvent } | { readonly ok: false; readonly reason: string };

/**
 * cdr_manager writes times as `YYYY-MM-DD HH:MM:SS` in Asterisk's local time without an offset; the agent runs on
 * the same host, so they are read in the process's local time zone.
 */
export function parseCdrTime(text: string | undefined): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec((text ?? '').trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function mapCdr(headers: AmiHeaders): CdrMapResult {
  const uniqueId = (headers.get('UniqueID') ?? '').trim();
  if (uniqueId === '') return { ok: false, reason: 'Cdr event without UniqueID' };
  const start = parseCdrTime(headers.get('StartTime'));
  const end = parseCdrTime(headers.get('EndTime'));
  if (start === undefined || end === undefined) return { ok: false, reason: `Cdr ${uniqueId}: unreadable StartTime/EndTime` };
  const answer = parseCdrTime(headers.get('AnswerTime'));
  const disposition = (headers.get('Disposition') ?? '').trim();
  const sequence = (headers.get(CDR_MAPPED_HEADERS.sequence) ?? '').trim();
  const revision = Number((headers.get(CDR_MAPPED_HEADERS.revision) ?? '').trim());
  const recording = (headers.get(CDR_MAPPED_HEADERS.recording) ?? '').trim();

  const candidate = {
    type: 'cdr' as const,
    // One Cdr event per call leg: the uniqueid (with systemname) plus CDR(sequence), unique at the site.
    cdrId: clip(`${uniqueId}:${/^\d+$/.test(sequence) ? sequence : '0'}`, 128),
    uniqueId: clip(uniqueId, 128),
    linkedId: clip((headers.get(CDR_MAPPED_HEADERS.linkedId) ?? '').trim() || uniqueId, 128),
    start: start.toISOString(),
    ...(answer === undefined ? {} : { answer: answer.toISOString() }),
    end: end.toISOString(),
    durationSec: nonNegativeInt(headers.get('Duration')),
    billSec: nonNegativeInt(headers.get('BillableSeconds')),
    src: clip(headers.get('Source') ?? '', 80),
    dst: clip(headers.get('Destination') ?? '', 80),
    // Anything else Asterisk may print (a new disposition in a later version) is reported as FAILED, not dropped.
    disposition: (DISPOSITIONS.has(disposition) ? disposition : 'FAILED') as CdrEvent['disposition'],
    ...optional('routeKind', RouteKind, headers.get(CDR_MAPPED_HEADERS.route)),
    ...optional('targetSiteId', SiteId, headers.get(CDR_MAPPED_HEADERS.target)),
    ...optional('trunkId', ObjectId, headers.get(CDR_MAPPED_HEADERS.trunk)),
    ...(Number.isInteger(revision) && revision >= 0 && (headers.get(CDR_MAPPED_HEADERS.revision) ?? '').trim() !== '' ? { snapshotRevision: revision } : {}),
    ...(recording !== '' && recording.length <= 255 ? { recordingFile: recording } : {}),
  };
  const parsed = CdrEvent.safeParse(candidate);
  if (!parsed.success) return { ok: false, reason: `Cdr ${uniqueId}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { ok: true, cdr: parsed.data };
}

function optional<K extends string>(key: K, schema: { safeParse(v: unknown): { success: boolean } }, raw: string | undefined): Partial<Record<K, string>> {
  const value = (raw ?? '').trim();
  if (value === '' || !schema.safeParse(value).success) return {};
  return { [key]: value } as Partial<Record<K, string>>;
}

function nonNegativeInt(text: string | undefined): number {
  const n = Number((text ?? '').trim());
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}
