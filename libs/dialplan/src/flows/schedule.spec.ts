import type { TimeSchedule } from '@fedpbx/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeDays, describeSchedule, InvalidTimeZoneError, isScheduleOpen, isValidTimeZone, localTimeIn } from './schedule.js';

const at = (iso: string): Date => new Date(iso);
const schedule = (timezone: string, windows: TimeSchedule['windows'], holidays: string[] = []): TimeSchedule => ({ timezone, windows, holidays });

describe('localTimeIn', () => {
  it('gives the wall clock of the zone, midnight as minute 0', () => {
    expect(localTimeIn('Europe/Moscow', at('2026-03-06T21:00:00Z'))).toEqual({ date: '2026-03-07', weekday: 6, minute: 0 });
    expect(localTimeIn('Europe/Berlin', at('2026-03-29T01:00:00Z'))).toEqual({ date: '2026-03-29', weekday: 0, minute: 180 });
    expect(localTimeIn('UTC', at('2026-01-01T23:59:59.999Z'))).toEqual({ date: '2026-01-01', weekday: 4, minute: 1439 });
  });

  it('rejects an unknown zone with a typed error', () => {
    expect(() => localTimeIn('Mars/Olympus', new Date(0))).toThrow(InvalidTimeZoneError);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('Europe/Moscow')).toBe(true);
  });
});

describe('isScheduleOpen', () => {
  const moscowHours = schedule('Europe/Moscow', [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }], ['2026-12-31']);

  it.each([
    ['2026-03-02T05:59:00Z', false], // Mon 08:59 MSK
    ['2026-03-02T06:00:00Z', true], // Mon 09:00 MSK: start is inside
    ['2026-03-02T14:59:59Z', true], // Mon 17:59:59
    ['2026-03-02T15:00:00Z', false], // Mon 18:00: end is outside
    ['2026-03-01T08:00:00Z', false], // Sunday
    ['2026-12-30T07:00:00Z', true], // Wed before the holiday
    ['2026-12-31T07:00:00Z', false], // holiday (a Thursday)
  ])('Moscow business hours at %s: %s', (iso, open) => {
    expect(isScheduleOpen(moscowHours, at(iso))).toBe(open);
  });

  it('Berlin keeps local hours across the March change (CET -> CEST)', () => {
    const hours = schedule('Europe/Berlin', [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }]);
    expect(isScheduleOpen(hours, at('2026-03-27T07:59:00Z'))).toBe(false); // Fri 08:59 CET
    expect(isScheduleOpen(hours, at('2026-03-27T08:00:00Z'))).toBe(true); // Fri 09:00 CET
    expect(isScheduleOpen(hours, at('2026-03-30T06:59:00Z'))).toBe(false); // Mon 08:59 CEST
    expect(isScheduleOpen(hours, at('2026-03-30T07:00:00Z'))).toBe(true); // Mon 09:00 CEST
    expect(isScheduleOpen(hours, at('2026-03-30T15:59:00Z'))).toBe(true); // Mon 17:59 CEST
    expect(isScheduleOpen(hours, at('2026-03-30T16:00:00Z'))).toBe(false);
  });

  it('Berlin: the skipped hour never opens, the repeated hour opens twice', () => {
    const twoToThree = schedule('Europe/Berlin', [{ days: [0], start: '02:00', end: '03:00' }]);
    // 29 March 2026: 01:59 CET is followed by 03:00 CEST.
    expect(isScheduleOpen(twoToThree, at('2026-03-29T00:59:00Z'))).toBe(false);
    expect(isScheduleOpen(twoToThree, at('2026-03-29T01:00:00Z'))).toBe(false);
    // 25 October 2026: 02:00-02:59 happens in CEST (UTC+2) and again in CET (UTC+1).
    expect(isScheduleOpen(twoToThree, at('2026-10-24T23:59:00Z'))).toBe(false);
    expect(isScheduleOpen(twoToThree, at('2026-10-25T00:00:00Z'))).toBe(true);
    expect(isScheduleOpen(twoToThree, at('2026-10-25T00:30:00Z'))).toBe(true);
    expect(isScheduleOpen(twoToThree, at('2026-10-25T01:30:00Z'))).toBe(true);
    expect(isScheduleOpen(twoToThree, at('2026-10-25T02:00:00Z'))).toBe(false);
  });

  it('24:00 ends a window at midnight; the next day is another day', () => {
    const saturday = schedule('Europe/Moscow', [{ days: [6], start: '00:00', end: '24:00' }]);
    expect(isScheduleOpen(saturday, at('2026-03-06T20:59:59Z'))).toBe(false); // Fri 23:59:59
    expect(isScheduleOpen(saturday, at('2026-03-06T21:00:00Z'))).toBe(true); // Sat 00:00
    expect(isScheduleOpen(saturday, at('2026-03-07T20:59:59Z'))).toBe(true); // Sat 23:59:59
    expect(isScheduleOpen(saturday, at('2026-03-07T21:00:00Z'))).toBe(false); // Sun 00:00
  });

  it('a window ending before it starts runs past midnight into the next day', () => {
    const fridayNight = schedule('Europe/Moscow', [{ days: [5], start: '22:00', end: '06:00' }]);
    expect(isScheduleOpen(fridayNight, at('2026-03-06T18:59:00Z'))).toBe(false); // Fri 21:59
    expect(isScheduleOpen(fridayNight, at('2026-03-06T19:00:00Z'))).toBe(true); // Fri 22:00
    expect(isScheduleOpen(fridayNight, at('2026-03-07T02:59:00Z'))).toBe(true); // Sat 05:59
    expect(isScheduleOpen(fridayNight, at('2026-03-07T03:00:00Z'))).toBe(false); // Sat 06:00
    expect(isScheduleOpen(fridayNight, at('2026-03-05T23:00:00Z'))).toBe(false); // Fri 02:00 (Thursday's night)
    expect(isScheduleOpen(fridayNight, at('2026-03-07T20:00:00Z'))).toBe(false); // Sat 23:00
  });

  it('holidays are local dates, not UTC dates', () => {
    const always = schedule('Europe/Moscow', [{ days: [0, 1, 2, 3, 4, 5, 6], start: '00:00', end: '24:00' }], ['2027-01-01']);
    expect(isScheduleOpen(always, at('2026-12-31T20:59:00Z'))).toBe(true); // 31 Dec 23:59 MSK
    expect(isScheduleOpen(always, at('2026-12-31T21:00:00Z'))).toBe(false); // 1 Jan 00:00 MSK, still 31 Dec in UTC
    expect(isScheduleOpen(always, at('2027-01-01T21:00:00Z'))).toBe(true); // 2 Jan 00:00 MSK
  });

  it('no windows: never open; start == end: never open', () => {
    expect(isScheduleOpen(schedule('UTC', []), at('2026-03-02T12:00:00Z'))).toBe(false);
    expect(isScheduleOpen(schedule('UTC', [{ days: [1], start: '12:00', end: '12:00' }]), at('2026-03-02T12:00:00Z'))).toBe(false);
  });

  it('in UTC agrees with plain Date arithmetic (property)', () => {
    const hhmm = fc.integer({ min: 0, max: 24 * 60 }).map((m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 }),
        hhmm,
        hhmm,
        (when, days, a, b) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          fc.pre(start !== end && start !== '24:00');
          const minute = when.getUTCHours() * 60 + when.getUTCMinutes();
          const toMin = (t: string): number => Number(t.slice(0, 2)) * 60 + Number(t.slice(3));
          const expected = days.includes(when.getUTCDay()) && minute >= toMin(start) && minute < toMin(end);
          expect(isScheduleOpen(schedule('UTC', [{ days, start, end }]), when)).toBe(expected);
        },
      ),
    );
  });

  it('is cheap enough to run on every call', () => {
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) isScheduleOpen(moscowHours, new Date(1_772_000_000_000 + i * 60_000));
    // ~10 µs per evaluation here; the bound is loose so a slow CI machine passes.
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe('describeSchedule', () => {
  it('reads like the admin wrote it', () => {
    expect(
      describeSchedule({ timezone: 'Europe/Moscow', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }, { days: [6], start: '10:00', end: '14:00' }], holidays: ['2026-12-31'] }),
    ).toBe('Mon-Fri 09:00-18:00; Sat 10:00-14:00 (Europe/Moscow); closed 2026-12-31');
    expect(describeSchedule({ timezone: 'UTC', windows: [], holidays: [] })).toBe('never open (UTC)');
    expect(describeDays([0, 6])).toBe('Sun,Sat');
    expect(describeDays([1, 2, 4, 5, 6])).toBe('Mon,Tue,Thu-Sat');
  });
});
