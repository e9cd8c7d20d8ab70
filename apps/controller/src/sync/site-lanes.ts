/**
 * One worker per site: work for a site runs one at a time (never two publishes of a site interleave), a kick
 * while it runs makes it run once more afterwards, and a failure retries with backoff until it succeeds, the
 * next kick cuts the wait short, or the lanes are stopped. Different sites run side by side.
 */
export class SiteLanes {
  private readonly lanes = new Map<string, Lane>();
  private stopped = false;

  constructor(
    private readonly work: (siteId: string) => Promise<void>,
    private readonly onError: (siteId: string, error: unknown, retryInMs: number) => void,
    private readonly backoff = { minMs: 200, maxMs: 10_000 },
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
      try {
        await this.work(siteId);
        return;
      } catch (error) {
        const wait = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** attempt);
        this.onError(siteId, error, wait);
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
  }
}

interface Lane {
  again: boolean;
  running: Promise<void> | undefined;
  wake: (() => void) | undefined;
}
