/**
 * One writer at a time inside this process. PGlite has a single session per process, so two transactions
 * running side by side would interleave (toolchain-facts.md); on PostgreSQL the federation row lock already
 * serializes writers, and this only saves them from queueing on it.
 */
export class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
