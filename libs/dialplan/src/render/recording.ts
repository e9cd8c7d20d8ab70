/**
 * Names of call recordings. The dialplan (`fedpbx-record`) and the agent (when it starts MixMonitor over AGI)
 * must name files the same way, so both come from here: `recordingFileName` for the agent, and
 * `recordingFileNameExpression` for the dialplan, which computes the same text inside Asterisk.
 *
 * `<YYYYMMDD-HHMMSS>-<caller>-<callee>-<uniqueid>.wav`, time in the site's time zone; caller and callee keep
 * only their digits (caller ID is caller-controlled text: FILTER in the dialplan, the same filter here), at most
 * 32 each; the unique id keeps A-Z a-z 0-9 and `.`, at most 64. Nothing else can reach the file name.
 */
import { RenderError } from './render-errors.js';
import { safeTimeZone } from './safe-values.js';

/** Channel variable (or global) holding the recording directory; the dialplan defaults it to DEFAULT_RECORDING_DIR. */
export const FEDPBX_REC_DIR_VARIABLE = 'FEDPBX_REC_DIR';
/** Channel variable the dialplan sets to the file name (without directory) of the recording it started. */
export const FEDPBX_REC_FILE_VARIABLE = 'FEDPBX_REC_FILE';
export const DEFAULT_RECORDING_DIR = '/var/spool/asterisk/monitor/fedpbx';

const MAX_NUMBER = 32;
const MAX_UNIQUE_ID = 64;

export interface RecordingNameInput {
  /** When the recording starts. */
  readonly at: Date;
  /** Caller number as received (anything: only its digits are kept). */
  readonly caller: string;
  /** Dialled number (only its digits are kept). */
  readonly callee: string;
  /** Asterisk `${UNIQUEID}` of the channel. */
  readonly uniqueId: string;
  /** IANA time zone of the date part; the site's `timezone`. Default `UTC`. */
  readonly timeZone?: string;
}

export function recordingFileName(input: RecordingNameInput): string {
  const object = 'recording';
  const timeZone = checkedTimeZone(input.timeZone ?? 'UTC');
  if (!(input.at instanceof Date) || Number.isNaN(input.at.getTime())) {
    throw new RenderError('UNSAFE_VALUE', object, 'at', 'not a valid date');
  }
  const caller = recordingNamePart(String(input.caller), false, MAX_NUMBER);
  const callee = recordingNamePart(String(input.callee), false, MAX_NUMBER);
  const uniqueId = recordingNamePart(String(input.uniqueId), true, MAX_UNIQUE_ID);
  return `${formatStamp(input.at, timeZone)}-${caller}-${callee}-${uniqueId}.wav`;
}

/**
 * `text.replace(/[^0-9]/g, '').slice(0, max)` (`idChars`: `/[^0-9A-Za-z.]/g`), as a loop that hands `text` back when
 * there is nothing to drop: the agent names a recorded call's file before its first command, where a regular
 * expression's replace (and its new string) costs several times a loop once the caches went cold between calls
 * (recording.spec.ts holds it to the expressions).
 */
export function recordingNamePart(text: string, idChars: boolean, max: number): string {
  let i = 0;
  while (i < text.length && keeps(text.charCodeAt(i), idChars)) i++;
  if (i === text.length) return text.length <= max ? text : text.slice(0, max);
  let kept = text.slice(0, i);
  for (i += 1; i < text.length && kept.length < max; i++) if (keeps(text.charCodeAt(i), idChars)) kept += text[i];
  return kept.length <= max ? kept : kept.slice(0, max);
}

function keeps(c: number, idChars: boolean): boolean {
  return (c >= 48 && c <= 57) || (idChars && ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46));
}

/** The zone last accepted: a site names its recordings in one zone, checked once rather than on every call. */
let lastZone: string | undefined;

function checkedTimeZone(timeZone: string): string {
  if (timeZone === lastZone) return timeZone;
  const checked = safeTimeZone(timeZone, { object: 'recording', field: 'timeZone' });
  lastZone = checked;
  return checked;
}

/**
 * The same name as a dialplan expression: `calleeExpression` is the dialplan text giving the dialled number
 * (e.g. `${ARG1}`); it is filtered to digits inside the expression.
 */
export function recordingFileNameExpression(timeZone: string, calleeExpression: string): string {
  const tz = safeTimeZone(timeZone, { object: 'recording', field: 'timeZone' });
  return (
    `\${STRFTIME(\${EPOCH},${tz},%Y%m%d-%H%M%S)}` +
    `-\${FILTER(0-9,\${CALLERID(num)}):0:${MAX_NUMBER}}` +
    `-\${FILTER(0-9,${calleeExpression}):0:${MAX_NUMBER}}` +
    `-\${FILTER(0-9A-Za-z.,\${UNIQUEID}):0:${MAX_UNIQUE_ID}}.wav`
  );
}

/** `YYYYMMDD-HHMMSS` of `at` in `timeZone`, as STRFTIME's `%Y%m%d-%H%M%S` writes it. */
/** One formatter per time zone: building an Intl.DateTimeFormat costs far more than using one (per recorded call). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      throw new RenderError('UNSAFE_VALUE', 'recording', 'timeZone', 'not a time zone this runtime knows');
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The last stamp per zone: calls that start in the same second share it (formatToParts is the costly part). */
const lastStamp = new Map<string, { second: number; stamp: string }>();

function formatStamp(at: Date, timeZone: string): string {
  const second = Math.floor(at.getTime() / 1000);
  const cached = lastStamp.get(timeZone);
  if (cached !== undefined && cached.second === second) return cached.stamp;
  const stamp = formatStampUncached(at, timeZone);
  lastStamp.set(timeZone, { second, stamp });
  return stamp;
}

function formatStampUncached(at: Date, timeZone: string): string {
  const parts = formatterFor(timeZone).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes): string => {
    const value = parts.find((p) => p.type === type)?.value ?? '';
    return value.padStart(type === 'year' ? 4 : 2, '0');
  };
  return `${part('year')}${part('month')}${part('day')}-${part('hour')}${part('minute')}${part('second')}`;
}
