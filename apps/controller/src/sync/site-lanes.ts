/**
 * One worker per site: work for a site runs one at a time (never two publishes of a site interleave), a kick
 * while it runs makes it run once more afterwards, and a failure retries with backoff until it succeeds, the
 * next kick cuts the wait short, or the lanes are stopped. Different sites run side by side, at most
 * `maxConcurrent` at once (a change to every site does not put every site's snapshot in flight together; the
 * others queue in kick order). A lane waiting to retry does not hold a place.
 */
export class SiteLanes {
  private readonly lanes = new Map<string, Lane>();
  private stopped = false;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly work: (siteId: string) => Promise<void>,
    private readonly onError: (siteId: string, error: unknown, retryInMs: number) => void,
    private readonly backoff = { minMs: 200, maxMs: 10_000 },
    private readonly maxConcurrent = Number.POSITIVE_INFINITY,
  ) {}

  kick(siteId: string): void {
    if (this.stopped) return;
    let lane = this.lanes.get(siteId);
    if (lane === undefined) {
      lane = { again: false, running: undefined, wake: undefined };
      this.lanes.set(siteId, lane);
    }
    if (lane.running !== undefined) {
      lane.again = true;
      lane.wake?.();
      return;
    }
    const l = lane;
    l.running = this.run(siteId, l).finally(() => {
      l.running = undefined;
      if (l.again && !this.stopped) this.kick(siteId);
      else this.lanes.delete(siteId);
    });
  }

  /** Resolves when no lane has work (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.lanes.size > 0) await Promise.all([...this.lanes.values()].map((l) => l.running));
  }

  /** Stops retrying; resolves when running work has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.lanes.values()) l.wake?.();
    await Promise.all([...this.lanes.values()].map((l) => l.running));
  }

  private async run(siteId: string, lane: Lane): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      lane.again = false;
      const outcome = await this.inPlace(() => this.work(siteId));
      if (outcome.ok) return;
      const wait = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** attempt);
      this.onError(siteId, outcome.error, wait);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        lane.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      lane.wake = undefined;
    }
  }

  /** Runs `f` holding one of the `maxConcurrent` places (skipped once stopped: that counts as done). */
  private async inPlace(f: () => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
    if (this.active >= this.maxConcurrent) await new Promise<void>((go) => this.waiting.push(go));
    else this.active++;
    try {
      if (!this.stopped) await f();
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    } finally {
      // The place passes straight to the next waiter, or is given back.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

interface Lane {
  again: boolean;
  running: Promise<void> | undefined;
  wake: (() => void) | undefined;
}
