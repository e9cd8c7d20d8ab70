/**
 * One CDR's column values -> the CdrEvent the agent stores and reports. The same for both sources (the CDR file
 * and the live AMI `Cdr` event), so a CDR read from either has the same id and content: the outbox keeps the first
 * and drops the other by its id.
 */
import { isFederationCallId, ObjectId, RouteKind, SiteId } from '@fedpbx/contracts';
import type { CdrEvent } from '@fedpbx/contracts';
import type { z } from 'zod';
import { decodeLegs, legOfCdr, type CallLeg } from '../call/call-legs.js';
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
 * `value(key)`: the column's text (undefined when the source lacks it); `time(key)`: the start/answer/end column as
 * the ISO text a CdrEvent holds (undefined for none or unreadable; {@link isoTime} makes it from an instant).
 */
export function cdrFromColumns(value: (key: CdrColumnKey) => string | undefined, time: (key: 'start' | 'answer' | 'end') => string | undefined): CdrMapResult {
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
  const leg = legOfCdr(legsOf(get('legs')), get('dstChannel'), get('lastData'));
  // Built field by field, each made to fit CdrEvent - clipped, checked or left out -
  // so the record is not validated a second time: that schema pass was a third of the agent's CPU per CDR
  // (bench:cdr-trickle profile at 50/s); cdr-record.spec.ts holds this to the schema over hostile column values. No
  // object spread per optional field: a dozen small objects per CDR, copied into a record V8 then kept as a dictionary.
  const cdr: Writable<CdrEvent> = {
    type: 'cdr',
    cdrId: cdrIdOf(uniqueId, get('sequence')),
    uniqueId: clip(uniqueId, 128),
    linkedId: clip(get('linkedId') || uniqueId, 128),
    start,
    end,
    durationSec: nonNegativeInt(get('duration')),
    billSec: nonNegativeInt(get('billsec')),
    src: clip(value('src') ?? '', 80),
    dst: clip(value('dst') ?? '', 80),
    // Anything else Asterisk may print (a new disposition in a later version) is reported as FAILED, not dropped.
    disposition: (DISPOSITIONS.has(disposition) ? disposition : 'FAILED') as CdrEvent['disposition'],
  };
  if (answer !== undefined) cdr.answer = answer;
  const routeKind = leg === undefined ? get('route') : leg.routeKind;
  if (routeKind !== '' && isRouteKind(routeKind)) cdr.routeKind = routeKind;
  const targetSiteId = leg === undefined ? get('target') : (leg.targetSiteId ?? '');
  if (targetSiteId !== '' && isSiteId(targetSiteId)) cdr.targetSiteId = targetSiteId;
  const trunkId = leg === undefined ? get('trunk') : (leg.trunkId ?? '');
  if (trunkId !== '' && isObjectId(trunkId)) cdr.trunkId = trunkId;
  const originSiteId = get('origin');
  if (originSiteId !== '' && isSiteId(originSiteId)) cdr.originSiteId = originSiteId;
  const callId = get('call');
  if (callId !== '' && isCallId(callId)) cdr.callId = callId;
  if (revisionText !== '' && Number.isSafeInteger(revision) && revision >= 0) cdr.snapshotRevision = revision;
  if (recording !== '' && recording.length <= 255) cdr.recordingFile = recording;
  return { ok: true, cdr };
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A schema's verdict on a string, remembered: a site's CDRs name the same few sites, trunks and route kinds over and
 * over, and a zod pass per field per CDR was a fifth of the CDR mapping's CPU (bench:cdr-trickle profile at 200/s).
 * Bounded: forgotten whole when full (hostile or ever-new values cost a parse each, as before).
 */
function remembered<T extends string>(schema: z.ZodType<T>, max = 1024): (raw: string) => raw is T {
  const verdicts = new Map<string, boolean>();
  return (raw): raw is T => {
    let ok = verdicts.get(raw);
    if (ok === undefined) {
      ok = schema.safeParse(raw).success;
      if (verdicts.size >= max) verdicts.clear();
      verdicts.set(raw, ok);
    }
    return ok;
  };
}

/**
 * FEDPBX_LEGS decoded, remembered by its text: the calls of one route plan carry the same list. Bounded like
 * {@link remembered}; the legs are only read (legOfCdr).
 */
const decodedLegs = new Map<string, readonly CallLeg[]>();
function legsOf(text: string): readonly CallLeg[] {
  if (text === '') return [];
  let legs = decodedLegs.get(text);
  if (legs === undefined) {
    legs = decodeLegs(text);
    if (decodedLegs.size >= 256) decodedLegs.clear();
    decodedLegs.set(text, legs);
  }
  return legs;
}

const isRouteKind = remembered(RouteKind);
const isSiteId = remembered(SiteId);
const isObjectId = remembered(ObjectId);
/** Unique per call: nothing to remember; the schema's own regex, without zod's machinery. */
const isCallId = (raw: string): raw is string => isFederationCallId(raw);

/** z.number().int() takes safe integers only. */
function nonNegativeInt(text: string): number {
  const n = Number(text);
  return text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** The instant as `z.iso.datetime()` takes it: toISOString() of a year 0000-9999 (others print `+012345-...`). */
export function isoTime(date: Date | undefined): string | undefined {
  if (date === undefined) return undefined;
  const year = date.getUTCFullYear();
  return year >= 0 && year <= 9999 ? date.toISOString() : undefined;
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
      return Number.isFinite(seconds) && seconds > 0 ? isoTime(new Date(Math.floor(seconds) * 1000)) : undefined;
    },
  );
}
