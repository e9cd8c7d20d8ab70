import { EventEmitter } from 'node:events';
import { PGlite, types, type Results } from '@electric-sql/pglite';

/** Only the data directory is ever set. */
type PGliteSettings = { readonly dataDir?: string };
type Release = () => void;
type ConnectCallback = (error: unknown, client: SerializedPool | null, done: Release) => void;
type QueryCallback = (error: unknown, results: Results<unknown> | null) => void;

/** TypeORM sends booleans as JS values; PGlite's parameters want PostgreSQL's literals (as typeorm-pglite does). */
const boolLiteral = (v: unknown): string => (v === true || v === 'true' || v === 1 ? 'TRUE' : v === false || v === 'false' || v === 0 ? 'FALSE' : String(v));

/**
 * The embedded database's pool, in the place of `pg`'s (TypeORM's `driver` option), with what typeorm-pglite's
 * lacks:
 * - isolation. PGlite is a single session, so two transactions open side by side share it - a rollback of one
 *   takes the other's statements with it (toolchain-facts.md). This pool hands out its one connection to one
 *   query runner at a time, like a PostgreSQL pool with `max: 1`: a transaction holds it from BEGIN to COMMIT,
 *   and every other query - the event ingest, the snapshot publisher, a login - waits its turn. (So nothing may
 *   query outside its own transaction while holding one; PostgreSQL mode would not deadlock on that, the
 *   embedded one would.)
 * - a database per DataSource. typeorm-pglite keeps one PGlite per process, opened with the options of the last
 *   DataSource made: a second DataSource silently used the first one's database, and closing either closed it
 *   for both (the next query opened a new one, in the other's directory). Here each DataSource's pool opens its
 *   own directory on its first connection and closes it with the DataSource.
 */
export function serializedPGliteDriver(options: PGliteSettings): { Pool: new () => SerializedPool } {
  return {
    Pool: class extends SerializedPool {
      constructor() {
        super(options);
      }
    },
  };
}

export class SerializedPool extends EventEmitter {
  private db: Promise<PGlite> | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly settings: PGliteSettings) {
    super();
  }

  private database(): Promise<PGlite> {
    this.db ??= PGlite.create({ ...this.settings, serializers: { [types.BOOL]: boolLiteral } });
    return this.db;
  }

  connect(callback: ConnectCallback): Promise<void> {
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
    return previous.then(async () => {
      try {
        await this.database();
      } catch (error) {
        done();
        return callback(error, null, done);
      }
      callback(null, this, done);
    });
  }

  /** With parameters one statement; without, possibly several (migrations): TypeORM wants the last one's result. */
  async query(sql: string, parameters?: unknown[] | QueryCallback, callback?: QueryCallback): Promise<Results<unknown>> {
    const cb = typeof parameters === 'function' ? parameters : callback;
    const params = typeof parameters === 'function' ? undefined : parameters;
    const db = await this.database();
    try {
      const results = params !== undefined && params.length > 0 ? await db.query(sql, params) : ((await db.exec(sql)).at(-1) ?? ({ rows: [], fields: [] } as unknown as Results<unknown>));
      cb?.(null, results);
      return results;
    } catch (error) {
      cb?.(error, null);
      throw error;
    }
  }

  end(callback?: (error: unknown) => void): void {
    const db = this.db;
    this.db = undefined;
    (db === undefined ? Promise.resolve() : db.then((d) => d.close())).then(
      () => callback?.(null),
      (error: unknown) => callback?.(error),
    );
  }
}
