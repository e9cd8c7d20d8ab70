import { z } from 'zod';

const HhMm = z.string().regex(/^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/, 'HH:MM (00:00-24:00)');

/** One weekly window: days 0 (Sunday) .. 6 (Saturday), local time [start, end). */
export const ScheduleWindow = z.strictObject({
  days: z.array(z.number().int().min(0).max(6)).min(1),
  start: HhMm,
  end: HhMm,
});
export type ScheduleWindow = z.infer<typeof ScheduleWindow>;

/**
 * A time-condition schedule: "open" inside any window and outside every holiday, evaluated in the site's
 * IANA time zone. The clock is never read by the library: time is always an argument.
 */
export const TimeSchedule = z.strictObject({
  timezone: z.string().min(1).max(64),
  windows: z.array(ScheduleWindow).max(64),
  /** Local dates (YYYY-MM-DD) on which the schedule is closed. */
  holidays: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/)).max(366).default([]),
});
export type TimeSchedule = z.infer<typeof TimeSchedule>;
