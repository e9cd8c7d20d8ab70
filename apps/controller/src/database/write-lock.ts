/**
 * One federation writer at a time inside this process: the federation row lock serializes writers anyway (and
 * the embedded database's pool serializes every transaction, serialized-pglite.ts); queueing here keeps waiting
 * writers from holding database connections while they wait.
 */
export class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
