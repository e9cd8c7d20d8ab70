import { PGliteDriver } from 'typeorm-pglite';

type PoolClass = PGliteDriver['driver']['Pool'];
/** Only the data directory is ever set (the driver's own option type resolves PGlite's CJS build). */
type PGliteSettings = { readonly dataDir?: string };
type ConnectCallback = Parameters<InstanceType<PoolClass>['connect']>[0];

/**
 * The embedded database's pool with the one property PGlite lacks: isolation. PGlite is a single session per
 * process, so two transactions open side by side share it - a rollback of one takes the other's statements with
 * it (toolchain-facts.md). This pool hands out its one connection to one query runner at a time, like a
 * PostgreSQL pool with `max: 1`: a transaction holds it from BEGIN to COMMIT, and every other query - the event
 * ingest, the snapshot publisher, a login - waits its turn. (So nothing may query outside its own transaction
 * while holding one; PostgreSQL mode would not deadlock on that, the embedded one would.)
 */
export function serializedPGliteDriver(options: PGliteSettings): { Pool: PoolClass } {
  const Base = new PGliteDriver({ ...options }).driver.Pool;
  class SerializedPool extends Base {
    private tail: Promise<void> = Promise.resolve();

    override connect(callback: ConnectCallback): Promise<void> {
      let release!: () => void;
      const turn = new Promise<void>((resolve) => (release = resolve));
      const previous = this.tail;
      this.tail = previous.then(() => turn);
      let released = false;
      const done = (): void => {
        if (released) return;
        released = true;
        release();
      };
      return previous.then(() =>
        super.connect((error, client) => {
          if (error !== null && error !== undefined) done();
          callback(error, client, done);
        }),
      );
    }
  }
  return { Pool: SerializedPool };
}
