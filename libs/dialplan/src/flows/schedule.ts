import type { ScheduleWindow, TimeSchedule } from '@fedpbx/contracts';

/** A moment as a wall clock in some zone shows it. */
export interface LocalTime {
  /** `YYYY-MM-DD`, the form holidays are written in. */
  readonly date: string;
  /** 0 (Sunday) .. 6 (Saturday). */
  readonly weekday: number;
  /** Minutes since local midnight, 0 .. 1439. */
  readonly minute: number;
}

export class InvalidTimeZoneError extends Error {
  override readonly name = 'InvalidTimeZoneError';
  readonly code = 'INVALID_TIME_ZONE';

  constructor(readonly timezone: string) {
    super(`unknown IANA time zone: ${JSON.stringify(timezone)}`);
  }
}

/**
 * One formatter per zone, made on first use and kept: building an `Intl.DateTimeFormat` costs far more than
 * formatting with it, and a time condition runs on every call. Zones are few (one per site), so the cache stays small.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        // h23, not hour12:false: the latter formats midnight as "24" in some ICU versions.
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
      });
    } catch (e) {
      if (e instanceof RangeError) throw new InvalidTimeZoneError(timezone);
      throw e;
    }
    formatters.set(timezone, f);
  }
  return f;
}

/** True when `timezone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timezone: string): boolean {
  try {
    formatterFor(timezone);
    return true;
  } catch (e) {
    if (e instanceof InvalidTimeZoneError) return false;
    throw e;
  }
}

/** The wall-clock date, weekday and minute of `at` in `timezone`. Throws `InvalidTimeZoneError` for an unknown zone. */
export function localTimeIn(timezone: string, at: Date): LocalTime {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timezone).formatToParts(at)) {
    const type = part.type;
    if (type === 'year') year = Number(part.value);
    else if (type === 'month') month = Number(part.value);
    else if (type === 'day') day = Number(part.value);
    else if (type === 'hour') hour = Number(part.value) % 24;
    else if (type === 'minute') minute = Number(part.value);
  }
  // The weekday follows from the local date itself, so no weekday names need parsing.
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const date = `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
  return { date, weekday, minute: hour * 60 + minute };
}

/** `HH:MM` (00:00 .. 24:00) as minutes since midnight. */
export function parseHhMm(text: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (m === null) throw new RangeError(`not HH:MM: ${JSON.stringify(text)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * Whether `local` falls inside `window`. A window is [start, end) on each of its days. A window whose end is not
 * after its start runs past midnight: `22:00`-`06:00` on Friday is open from Friday 22:00 to Saturday 06:00.
 * `00:00`-`24:00` is the whole day; a window with start == end is never open.
 */
export function isInWindow(window: ScheduleWindow, local: LocalTime): boolean {
  const start = parseHhMm(window.start);
  const end = parseHhMm(window.end);
  if (start === end) return false;
  if (start < end) return window.days.includes(local.weekday) && local.minute >= start && local.minute < end;
  // Overnight: the evening part belongs to the listed day, the morning part to the day after it.
  if (local.minute >= start) return window.days.includes(local.weekday);
  if (local.minute < end) return window.days.includes((local.weekday + 6) % 7);
  return false;
}

/**
 * Whether the schedule is open at `at`: inside a window and not on a holiday, both judged by the wall clock of the
 * schedule's zone (so DST changes move the UTC instants of a window, never its local hours). A local hour that DST
 * skips never occurs; a repeated one is open both times it occurs if the window covers it.
 * Throws `InvalidTimeZoneError` for an unknown zone.
 */
export function isScheduleOpen(schedule: TimeSchedule, at: Date): boolean {
  const local = localTimeIn(schedule.timezone, at);
  if (schedule.holidays.includes(local.date)) return false;
  return schedule.windows.some((w) => isInWindow(w, local));
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** `[1,2,3,4,5]` -> `Mon-Fri`; `[0,6]` -> `Sun,Sat`; runs of three or more days become ranges. */
export function describeDays(days: readonly number[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    const first = DAY_NAMES[sorted[i] ?? 0] ?? '?';
    const last = DAY_NAMES[sorted[j] ?? 0] ?? '?';
    if (j - i >= 2) parts.push(`${first}-${last}`);
    else for (let k = i; k <= j; k++) parts.push(DAY_NAMES[sorted[k] ?? 0] ?? '?');
    i = j + 1;
  }
  return parts.join(',');
}

/** A one-line human description for traces: `Mon-Fri 09:00-18:00 (Europe/Moscow); closed 2026-12-31`. */
export function describeSchedule(schedule: TimeSchedule): string {
  const windows = schedule.windows.length === 0 ? 'never open' : schedule.windows.map((w) => `${describeDays(w.days)} ${w.start}-${w.end}`).join('; ');
  const holidays = schedule.holidays.length === 0 ? '' : `; closed ${schedule.holidays.join(', ')}`;
  return `${windows} (${schedule.timezone})${holidays}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
