/**
 * One CDR's column values -> the CdrEvent the agent stores and reports. The same for both sources (the CDR file
 * and the live AMI `Cdr` event), so a CDR read from either has the same id and content: the outbox keeps the first
 * and drops the other by its id.
 */
import { CdrEvent, FederationCallId, ObjectId, RouteKind, SiteId } from '@fedpbx/contracts';
import { decodeLegs, legOfCdr } from '../call/call-legs.js';
import type { CdrColumnKey } from './cdr-columns.js';

export type CdrMapResult = { readonly ok: true; readonly cdr: CdrEvent } | { readonly ok: false; readonly reason: string };

const DISPOSITIONS = new Set(['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION']);

/**
 * The CDR's id at the site: Asterisk's uniqueid (unique per channel, with the systemname when set) and the CDR's
 * sequence (main/cdr.c: a global counter given to every CDR object, so the several CDRs of one channel - a Dial
 * fork, a transfer - differ). Stable across re-reads: the controller's unique key and the JetStream msg-id.
 */
export function cdrIdOf(uniqueId: string, sequence: string): string {
  return clip(`${uniqueId}:${/^\d+$/.test(sequence) ? sequence : '0'}`, 128);
}

/**
 * `value(key)`: the column's text (undefined when the source lacks it); `time(key)`: the start/answer/end
 * column as an instant (undefined for none or unreadable).
 */
export function cdrFromColumns(value: (key: CdrColumnKey) => string | undefined, time: (key: 'start' | 'answer' | 'end') => Date | undefined): CdrMapResult {
  const get = (key: CdrColumnKey): string => (value(key) ?? '').trim();
  const uniqueId = get('uniqueId');
  if (uniqueId === '') return { ok: false, reason: 'CDR without uniqueid' };
  const start = time('start');
  const end = time('end');
  if (start === undefined || end === undefined) return { ok: false, reason: `CDR ${uniqueId}: unreadable start/end time` };
  const answer = time('answer');
  const disposition = get('disposition');
  const revisionText = get('revision');
  const revision = Number(revisionText);
  const recording = get('recording');
  // This record's own leg, found by the endpoint Asterisk dialled for it (its dstchannel) in the plan's attempts
  // (FEDPBX_LEGS, call/call-legs.ts); the call's first choice when it is none of them (no Dial, or a leg beyond the list's limit).
  const leg = legOfCdr(decodeLegs(get('legs')), get('dstChannel'), get('lastData'));
  const candidate = {
    type: 'cdr' as const,
    cdrId: cdrIdOf(uniqueId, get('sequence')),
    uniqueId: clip(uniqueId, 128),
    linkedId: clip(get('linkedId') || uniqueId, 128),
    start: start.toISOString(),
    ...(answer === undefined ? {} : { answer: answer.toISOString() }),
    end: end.toISOString(),
    durationSec: nonNegativeInt(get('duration')),
    billSec: nonNegativeInt(get('billsec')),
    src: clip(value('src') ?? '', 80),
    dst: clip(value('dst') ?? '', 80),
    // Anything else Asterisk may print (a new disposition in a later version) is reported as FAILED, not dropped.
    disposition: (DISPOSITIONS.has(disposition) ? disposition : 'FAILED') as CdrEvent['disposition'],
    ...optional('routeKind', RouteKind, leg === undefined ? get('route') : leg.routeKind),
    ...optional('targetSiteId', SiteId, leg === undefined ? get('target') : (leg.targetSiteId ?? '')),
    ...optional('trunkId', ObjectId, leg === undefined ? get('trunk') : (leg.trunkId ?? '')),
    ...optional('originSiteId', SiteId, get('origin')),
    ...optional('callId', FederationCallId, get('call')),
    ...(revisionText !== '' && Number.isInteger(revision) && revision >= 0 ? { snapshotRevision: revision } : {}),
    ...(recording !== '' && recording.length <= 255 ? { recordingFile: recording } : {}),
  };
  const parsed = CdrEvent.safeParse(candidate);
  if (!parsed.success) return { ok: false, reason: `CDR ${uniqueId}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { ok: true, cdr: parsed.data };
}

function optional<K extends string>(key: K, schema: { safeParse(v: unknown): { success: boolean } }, raw: string): Partial<Record<K, string>> {
  if (raw === '' || !schema.safeParse(raw).success) return {};
  return { [key]: raw } as Partial<Record<K, string>>;
}

function nonNegativeInt(text: string): number {
  const n = Number(text);
  return text !== '' && Number.isInteger(n) && n >= 0 ? n : 0;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

/** A record of the CDR file (times: epoch seconds, `0` for a call never answered). */
export function cdrFromFileRecord(record: ReadonlyMap<CdrColumnKey, string>): CdrMapResult {
  return cdrFromColumns(
    (key) => record.get(key),
    (key) => {
      const seconds = Number(record.get(key) ?? '');
      return Number.isFinite(seconds) && seconds > 0 ? new Date(Math.floor(seconds) * 1000) : undefined;
    },
  );
}
