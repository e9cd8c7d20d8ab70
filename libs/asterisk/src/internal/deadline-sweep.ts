/**
 * Deadlines of many objects watched by one timer: a deadline is a field of its object, and the objects that have
 * one are in a list threaded through them, which one timer sweeps every `periodMs` while the list is not empty.
 *
 * For the bounds of AGI sessions (the environment's 5 s, a command's 60 s, the idle 120 s): a call arms a bound
 * for every command and almost never reaches one. A Node timer per session costs a `Timeout` (and its arguments)
 * per call, its place in Node's timer lists, and `clearTimeout` at the end; here arming sets a field (and links the
 * object in, the first time), and the links are the object's own.
 *
 * The sweep keeps its own clock, whole milliseconds read once per sweep (a clock reading per deadline would make a
 * heap number each time): a deadline is counted from the last reading plus one period, so it fires no earlier than
 * its bound after it was set - less the event loop's lateness at that sweep, as Node's own timers count from the
 * loop's cached time - and at most two periods (plus that lateness) after.
 *
 * A sweep that finds no deadline set since the one before (calls open, none starting: long Dials) sleeps until the
 * earliest deadline instead of waking every period; the next `watch` reads the clock afresh and wakes it to its
 * period again. So the timer runs at its period only while deadlines are being set, when a reading per period
 * is what keeps a reading per deadline away.
 */

/** What an object keeps for the sweep (its fields, so that watching it allocates nothing). */
export interface Swept {
  /** The sweep's clock (whole ms) at which {@link onSweptDeadline} is due. */
  sweepAt: number;
  /** 0: not watched; 1: watched, keeps the process alive; 2: watched, does not. */
  sweepState: 0 | 1 | 2;
  sweepPrev: Swept | undefined;
  sweepNext: Swept | undefined;
  /** The deadline passed (the object is no longer watched when this is called). */
  onSweptDeadline(): void;
}

export class DeadlineSweep {
  private head: Swept | undefined;
  private tail: Swept | undefined;
  /** Watched objects whose deadline keeps the process alive (the timer is ref'd while there are any). */
  private keepingAlive = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** The timer is set for the earliest deadline, not the period (see the class comment); the clock may be stale. */
  private sleeping = false;
  /** {@link timer} was made for the period (not for a sleep): refresh() sets it for one more period. */
  private timerIsPeriodic = false;
  /** A deadline was set since the last sweep. */
  private watchedSinceSweep = false;
  private readonly onTimer = (): void => this.sweep();
  /** Whole milliseconds since {@link origin}, read at each sweep and when a sweep is set again after a pause. */
  private clock = 0;
  private origin = performance.now();

  constructor(readonly periodMs: number) {}

  /**
   * `item`'s deadline is `ms` from now (replacing any it had). `keepAlive`: whether waiting for it keeps the
   * process alive, as a timer does unless unref'd.
   */
  watch(item: Swept, ms: number, keepAlive: boolean): void {
    // No sweep set, or one asleep: the clock has not been read since the last one, which may be long ago.
    if (!this.scheduled || this.sleeping) this.readClock();
    this.watchedSinceSweep = true;
    item.sweepAt = this.clock + ms + this.periodMs;
    const state = keepAlive ? 1 : 2;
    if (item.sweepState === 0) {
      item.sweepPrev = this.tail;
      item.sweepNext = undefined;
      if (this.tail === undefined) this.head = item;
      else this.tail.sweepNext = item;
      this.tail = item;
    } else if (item.sweepState === state) {
      return;
    } else if (item.sweepState === 1) {
      this.keepingAlive -= 1;
    }
    item.sweepState = state;
    if (keepAlive) this.keepingAlive += 1;
    this.schedule();
  }

  /** `item` has no deadline any more. */
  unwatch(item: Swept): void {
    if (item.sweepState === 0) return;
    const { sweepPrev: prev, sweepNext: next } = item;
    if (prev === undefined) this.head = next;
    else prev.sweepNext = next;
    if (next === undefined) this.tail = prev;
    else next.sweepPrev = prev;
    item.sweepPrev = undefined;
    item.sweepNext = undefined;
    if (item.sweepState === 1) {
      this.keepingAlive -= 1;
      if (this.keepingAlive === 0) this.timer?.unref();
    }
    item.sweepState = 0;
  }

  /** Objects watched now. */
  get size(): number {
    let count = 0;
    for (let item = this.head; item !== undefined; item = item.sweepNext) count += 1;
    return count;
  }

  /** Sets the timer for the next sweep when none is set, ref'd when a watched deadline keeps the process alive. */
  private schedule(): void {
    if (this.sleeping) {
      // A deadline set while asleep: back to sweeping every period (the new one may be the earliest).
      this.sleeping = false;
      this.scheduled = false;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // refresh() keeps a timer's length: the timer made for a sleep is not reused for the period.
      if (this.timer !== undefined && this.timerIsPeriodic) this.timer.refresh();
      else {
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = setTimeout(this.onTimer, this.periodMs);
        this.timerIsPeriodic = true;
      }
    }
    const timer = this.timer as NodeJS.Timeout;
    if (this.keepingAlive > 0) {
      if (!timer.hasRef()) timer.ref();
    } else if (timer.hasRef()) {
      timer.unref();
    }
  }

  private readClock(): void {
    this.clock = Math.floor(performance.now() - this.origin);
    // Kept a small integer (one that needs no heap number): every ~6 days the origin moves up to now.
    if (this.clock > REBASE_AFTER_MS) {
      const shift = this.clock;
      this.origin += shift;
      this.clock = 0;
      for (let item = this.head; item !== undefined; item = item.sweepNext) item.sweepAt -= shift;
    }
  }

  private sweep(): void {
    this.scheduled = false;
    this.sleeping = false;
    this.readClock();
    const now = this.clock;
    // What is due is gathered first: a deadline's handler may watch or unwatch any object, this one included.
    let due: Swept[] | undefined;
    for (let item = this.head; item !== undefined; item = item.sweepNext) {
      if (item.sweepAt <= now) (due ??= []).push(item);
    }
    if (due !== undefined) {
      // In deadline order, as Node's own timers fire: a late sweep (a busy loop) can find several due at once.
      if (due.length > 1) due.sort(bySweepAt);
      for (const item of due) {
        // Re-armed (or let go) by an earlier handler of this sweep: not due any more.
        if (item.sweepState === 0 || item.sweepAt > now) continue;
        this.unwatch(item);
        try {
          item.onSweptDeadline();
        } catch (error) {
          // As a timer's callback would: uncaught, and the other deadlines still fire.
          process.nextTick(rethrow, error);
        }
      }
    }
    if (this.head === undefined) return;
    if (this.watchedSinceSweep) {
      this.watchedSinceSweep = false;
      this.schedule();
      return;
    }
    this.sleepUntilEarliest();
  }

  /**
   * No deadline was set since the last sweep: the timer is set for the earliest one (the clock was just read, and
   * every deadline was counted from a reading no later than it), not for the next period.
   */
  private sleepUntilEarliest(): void {
    let earliest = Infinity;
    for (let item = this.head; item !== undefined; item = item.sweepNext) if (item.sweepAt < earliest) earliest = item.sweepAt;
    const ms = Math.max(this.periodMs, earliest - this.clock);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, ms);
    this.timerIsPeriodic = false;
    if (this.keepingAlive === 0) this.timer.unref();
    this.scheduled = true;
    this.sleeping = true;
  }
}

/** 2^29 ms: clock values and deadlines (up to a day ahead) stay below 2^30, V8's small integers. */
const REBASE_AFTER_MS = 2 ** 29;

function bySweepAt(a: Swept, b: Swept): number {
  return a.sweepAt - b.sweepAt;
}

function rethrow(error: unknown): never {
  throw error;
}
