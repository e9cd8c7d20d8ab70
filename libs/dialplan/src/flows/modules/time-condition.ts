import type { NodeIssue } from '../flow-issues.js';
import { outcome, type FlowModule } from '../flow-module.js';
import { describeSchedule, InvalidTimeZoneError, isScheduleOpen, isValidTimeZone, parseHhMm } from '../schedule.js';

/**
 * `match` while the schedule is open at the call's time (`ctx.now`), `nomatch` otherwise. A schedule whose zone
 * the runtime does not know (the validator rejects it, so only an unvalidated flow has one) counts as closed,
 * and the trace says why: the call still goes somewhere rather than failing.
 */
export const timeConditionModule: FlowModule<'time-condition'> = {
  type: 'time-condition',
  outcomes: () => ['match', 'nomatch'],
  makesProgress: () => false,
  validate(node) {
    const issues: NodeIssue[] = [];
    if (node.next.match === undefined && node.next.nomatch === undefined) {
      issues.push({ code: 'missing-outcome', severity: 'error', message: 'neither match nor nomatch leads anywhere: the call always ends here', data: { expected: ['match', 'nomatch'] } });
    }
    const { schedule } = node;
    if (!isValidTimeZone(schedule.timezone)) {
      issues.push({ code: 'bad-schedule', severity: 'error', message: `unknown time zone ${JSON.stringify(schedule.timezone)}`, data: { timezone: schedule.timezone } });
    }
    for (const day of schedule.holidays) {
      if (!isRealDate(day)) issues.push({ code: 'bad-schedule', severity: 'error', message: `holiday ${day} is not a date`, data: { holiday: day } });
    }
    schedule.windows.forEach((w, index) => {
      if (parseHhMm(w.start) === parseHhMm(w.end)) {
        issues.push({ code: 'bad-schedule', severity: 'warning', message: `window ${w.start}-${w.end} is never open`, data: { window: index } });
      }
    });
    return issues;
  },
  run(node, ctx) {
    let open: boolean;
    try {
      open = isScheduleOpen(node.schedule, ctx.now);
    } catch (e) {
      if (!(e instanceof InvalidTimeZoneError)) throw e;
      ctx.trace({ step: 'schedule', detail: `${e.message}: treated as closed`, data: { timezone: e.timezone, open: false } });
      return Promise.resolve(outcome('nomatch'));
    }
    ctx.trace({
      step: 'schedule',
      detail: `${open ? 'open' : 'closed'} at ${ctx.now.toISOString()}: ${describeSchedule(node.schedule)}`,
      data: { at: ctx.now.toISOString(), open },
    });
    return Promise.resolve(outcome(open ? 'match' : 'nomatch'));
  },
};

function isRealDate(text: string): boolean {
  const [y, m, d] = text.split('-').map(Number);
  if (y === undefined || m === undefined || d === undefined) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
