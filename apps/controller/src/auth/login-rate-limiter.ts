/**
 * Failed logins per key (user name, client address) in a fixed window. Kept in memory: a restart forgets,
 * which is acceptable for slowing down guessing on one controller.
 */
export class LoginRateLimiter {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the key may try again, or 0 when it may try now. */
  retryAfterSec(key: string): number {
    const f = this.failures.get(key);
    if (f === undefined) return 0;
    const t = this.now();
    if (t >= f.resetAt) {
      this.failures.delete(key);
      return 0;
    }
    return f.count >= this.maxFailures ? Math.ceil((f.resetAt - t) / 1000) : 0;
  }

  fail(key: string): void {
    const t = this.now();
    const f = this.failures.get(key);
    if (f === undefined || t >= f.resetAt) this.failures.set(key, { count: 1, resetAt: t + this.windowMs });
    else f.count++;
    if (this.failures.size > 100_000) this.sweep(t);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private sweep(t: number): void {
    for (const [k, f] of this.failures) if (t >= f.resetAt) this.failures.delete(k);
  }
}
