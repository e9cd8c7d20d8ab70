/**
 * How much of its own time a thread has had since a moment: its CPU time, plus the time it was seen asleep in the
 * kernel (or stopped) once past `graceMs` - the loop's own next timer, before which a healthy idle loop sleeps.
 * Time it spends runnable but waiting for a CPU (a loaded host) is not its own. Linux /proc: the main thread's
 * (tid = pid) schedstat gives its CPU time precisely; its stat gives its state (R runnable, S/D asleep, T/t
 * stopped). schedstat's wait counter is no help: the kernel adds a wait only when the wait ends. Asleep time is
 * credited per sample, at most twice the expected sampling interval each, so a sampler late itself credits less,
 * never more.
 *
 * Self-contained on purpose: the event-loop watchdog's worker runs this very function from its source text
 * (OWN_TIME_METER), the supervisor calls it.
 */
export interface OwnTimeMeter {
  /** Starts measuring at `now` (ms). */
  reset(now: number): void;
  /** Own time since the reset (ms), or undefined where /proc does not tell it. */
  ownMs(now: number): number | undefined;
  readable(): boolean;
}

export function ownTimeMeter(read: (path: string, encoding: 'latin1') => string, pid: number, graceMs: number, sampleEveryMs = 100): OwnTimeMeter {
  const base = `/proc/${pid}/task/${pid}/`;
  const sample = (): { cpuMs: number; state: string } | undefined => {
    try {
      const cpuMs = Number(read(`${base}schedstat`, 'latin1').split(' ')[0]) / 1e6;
      const stat = read(`${base}stat`, 'latin1');
      const state = stat.charAt(stat.lastIndexOf(')') + 2);
      return Number.isFinite(cpuMs) && state !== '' ? { cpuMs, state } : undefined;
    } catch {
      return undefined;
    }
  };
  let startedAt = 0;
  let lastAt = 0;
  let cpuAtStart: number | undefined;
  let asleepMs = 0;
  return {
    reset(now) {
      startedAt = now;
      lastAt = now;
      cpuAtStart = sample()?.cpuMs;
      asleepMs = 0;
    },
    ownMs(now) {
      const s = sample();
      if (s === undefined || cpuAtStart === undefined) return undefined;
      const credit = Math.min(now - lastAt, 2 * sampleEveryMs);
      lastAt = now;
      if (now - startedAt > graceMs && 'SDTtWPI'.includes(s.state)) asleepMs += credit;
      return s.cpuMs - cpuAtStart + asleepMs;
    },
    readable: () => sample() !== undefined,
  };
}

/** {@link ownTimeMeter} as source text, for the watchdog's eval'ed worker. */
export const OWN_TIME_METER = ownTimeMeter.toString();
