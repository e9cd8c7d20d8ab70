import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { DeadlineSweep, type Swept } from './deadline-sweep.js';

/** A watched object that notes when its deadline fired, and can run something when it does. */
class Item implements Swept {
  sweepAt = 0;
  sweepState: Swept['sweepState'] = 0;
  sweepPrev: Swept | undefined;
  sweepNext: Swept | undefined;
  firedAt: number | undefined;
  then: (() => void) | undefined;

  constructor(readonly name: string, readonly fired: string[] = []) {}

  onSweptDeadline(): void {
    this.firedAt = performance.now();
    this.fired.push(this.name);
    this.then?.();
  }
}

/** Timers that keep the process alive now (Node counts ref'd timers in getActiveResourcesInfo). */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('DeadlineSweep', () => {
  it('fires each deadline once, never before it', async () => {
    const sweep = new DeadlineSweep(20);
    const fired: string[] = [];
    const items = [60, 25, 100, 40].map((ms) => ({ ms, item: new Item(`${ms}`, fired) }));
    const start = performance.now();
    for (const { ms, item } of items) sweep.watch(item, ms, true);
    expect(sweep.size).toBe(4);
    await vi.waitFor(() => expect(fired).toHaveLength(4), { timeout: 5_000 });
    // (Deadlines a late sweep finds due together fire in the order they were set.)
    expect([...fired].sort()).toEqual(['100', '25', '40', '60']);
    for (const { ms, item } of items) expect((item.firedAt as number) - start).toBeGreaterThanOrEqual(ms);
    await delay(50);
    expect(fired).toHaveLength(4);
    expect(sweep.size).toBe(0);
  });

  it('a deadline watched again replaces the one before; one let go never fires', async () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const moved = new Item('moved', fired);
    const dropped = new Item('dropped', fired);
    const other = new Item('other', fired);
    sweep.watch(moved, 300, true);
    sweep.watch(dropped, 30, true);
    sweep.unwatch(dropped);
    sweep.unwatch(dropped); // twice is harmless
    await delay(15);
    // Set again after the other, for later than it: it fires after the other (in deadline order even when a busy
    // loop makes one late sweep find both due; the list holds moved first).
    sweep.watch(other, 40, true);
    sweep.watch(moved, 80, true);
    await vi.waitFor(() => expect(fired).toHaveLength(2), { timeout: 5_000 });
    expect(fired).toEqual(['other', 'moved']);
  });

  it('deadlines found due by one late sweep fire in deadline order, not in the order they were first watched', () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const first = new Item('first', fired);
    const second = new Item('second', fired);
    sweep.watch(first, 80, true);
    sweep.watch(second, 40, true);
    // The loop was busy past both deadlines: the sweep that runs finds them due together.
    const realNow = performance.now.bind(performance);
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => realNow() + 1_000);
    try {
      (sweep as unknown as { sweep: () => void }).sweep();
    } finally {
      spy.mockRestore();
    }
    expect(fired).toEqual(['second', 'first']);
    expect(sweep.size).toBe(0);
  });

  it('a handler may watch or let go of others, itself included, in the same sweep', async () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const a = new Item('a', fired);
    const b = new Item('b', fired);
    const c = new Item('c', fired);
    // a, due with b, re-arms b before b's turn and lets go of c: b fires later, c never; a watches itself again.
    a.then = () => {
      sweep.watch(b, 40, true);
      sweep.unwatch(c);
      if (fired.filter((n) => n === 'a').length === 1) sweep.watch(a, 20, true);
    };
    sweep.watch(a, 5, true);
    sweep.watch(b, 5, true);
    sweep.watch(c, 5, true);
    await vi.waitFor(() => expect(fired).toHaveLength(3), { timeout: 5_000 });
    // a first; then a again and b (in either order when a late sweep finds both due).
    expect(fired[0]).toBe('a');
    expect([...fired].sort()).toEqual(['a', 'a', 'b']);
    await delay(50);
    expect(fired).toHaveLength(3);
    expect(sweep.size).toBe(0);
  });

  it('a handler that throws leaves the others firing and the error uncaught, as a timer callback would', async () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const bad = new Item('bad', fired);
    bad.then = () => {
      throw new Error('handler broke');
    };
    const uncaught: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', onUncaught);
    try {
      sweep.watch(bad, 5, true);
      sweep.watch(new Item('good', fired), 5, true);
      sweep.watch(new Item('later', fired), 40, true);
      await vi.waitFor(() => expect(fired).toHaveLength(3), { timeout: 5_000 });
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const listener of listeners) process.on('uncaughtException', listener);
    }
    expect(fired).toEqual(['bad', 'good', 'later']);
    expect(uncaught.map((e) => (e as Error).message)).toEqual(['handler broke']);
  });

  it('one timer for every deadline, which keeps the process alive only while a deadline that should is watched', async () => {
    const before = refTimers();
    const sweep = new DeadlineSweep(50);
    const items = Array.from({ length: 100 }, (_, i) => new Item(`${i}`));
    for (const item of items) sweep.watch(item, 10_000, true);
    expect(refTimers()).toBe(before + 1);
    // Deadlines that do not keep the process alive (an AGI session's close grace): the timer is unref'd.
    for (const item of items) sweep.watch(item, 10_000, false);
    expect(refTimers()).toBe(before);
    const first = items[0] as Item;
    sweep.watch(first, 10_000, true);
    expect(refTimers()).toBe(before + 1);
    sweep.unwatch(first);
    expect(refTimers()).toBe(before);
    for (const item of items) sweep.unwatch(item);
    expect(sweep.size).toBe(0);
    // Nothing watched: the timer runs out at its next sweep and is not set again.
    await delay(120);
    const idle = refTimers(); // (the other tests' timers have run out meanwhile)
    sweep.watch(first, 10_000, true);
    expect(refTimers()).toBe(idle + 1);
    sweep.unwatch(first);
    expect(refTimers()).toBe(idle);
  });

  it('sleeps until the earliest deadline once none is being set, instead of waking every period', async () => {
    const sweep = new DeadlineSweep(10);
    let sweeps = 0;
    const target = sweep as unknown as { sweep: () => void };
    const realSweep = target.sweep.bind(sweep);
    target.sweep = () => {
      sweeps += 1;
      realSweep();
    };
    const item = new Item('long');
    const start = performance.now();
    sweep.watch(item, 300, true);
    await vi.waitFor(() => expect(item.firedAt).toBeDefined(), { timeout: 5_000 });
    expect((item.firedAt as number) - start).toBeGreaterThanOrEqual(300);
    // Woken every 10 ms that would be ~30 sweeps: one after the watch, then asleep until the deadline (a loaded
    // machine's late timers only make fewer).
    expect(sweeps).toBeLessThanOrEqual(5);
  });

  it('a deadline set while asleep wakes it: an earlier one fires on time, never before its bound', async () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const late = new Item('late', fired);
    const early = new Item('early', fired);
    sweep.watch(late, 2_000, true);
    await delay(60); // asleep by now, until the 2 s deadline
    const start = performance.now();
    sweep.watch(early, 30, true);
    await vi.waitFor(() => expect(fired).toEqual(['early']), { timeout: 1_500 });
    expect((early.firedAt as number) - start).toBeGreaterThanOrEqual(30);
    expect(sweep.size).toBe(1);
    sweep.unwatch(late);
    expect(sweep.size).toBe(0);
  });

  it('after a sleep, a new deadline is swept at the period again (not at the length of the sleep)', async () => {
    const sweep = new DeadlineSweep(10);
    const fired: string[] = [];
    const first = new Item('first', fired);
    sweep.watch(first, 2_000, true);
    await vi.waitFor(() => expect(fired).toEqual(['first']), { timeout: 6_000 });
    // The sleep's timer was ~2 s long; the next deadline is 20 ms and must not wait for another 2 s.
    const next = new Item('next', fired);
    sweep.watch(next, 20, true);
    const start = performance.now();
    await vi.waitFor(() => expect(fired).toEqual(['first', 'next']), { timeout: 5_000 });
    expect((next.firedAt as number) - start).toBeGreaterThanOrEqual(20);
    expect((next.firedAt as number) - start).toBeLessThan(1_000);
  }, 10_000);
});
