import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';
import { SnakeNamingStrategy } from './naming-strategy.js';
import { serializedPGliteDriver } from './serialized-pglite.js';

export type DatabaseMode = 'postgres' | 'embedded';

export interface DatabaseSettings {
  /** PostgreSQL URL; absent means the embedded database (PGlite) in `dataDir`. */
  readonly url?: string | undefined;
  readonly dataDir: string;
  /** PostgreSQL: how long taking a new connection may wait before the request fails (503) instead of hanging. */
  readonly connectTimeoutMs?: number | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export const databaseMode = (s: DatabaseSettings): DatabaseMode => (s.url === undefined ? 'embedded' : 'postgres');

/**
 * TypeORM options for either database. Both run the same migrations; `synchronize` is never on. PGlite needs
 * `installExtensions: false` and pgcrypto-style uuids (toolchain-facts.md: `uuid-ossp` crashes it), and has one
 * session per process, so its pool lends that session to one query runner at a time (serialized-pglite.ts).
 */
export function dataSourceOptions(s: DatabaseSettings): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    logging: false,
    // gen_random_uuid() is built into PostgreSQL 13+ and PGlite: no extension to install on either.
    installExtensions: false,
    uuidExtension: 'pgcrypto' as const,
  };
  if (s.url !== undefined) {
    // node-postgres waits for a connection forever by default: while PostgreSQL is away every request would hang.
    // Keep-alive finds connections whose server vanished without a FIN (a failed-over host); the pool drops broken
    // connections and opens new ones on demand, so nothing has to restart when the server is back.
    const extra = { max: 10, connectionTimeoutMillis: s.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, keepAlive: true };
    return { ...common, url: s.url, extra };
  }
  return {
    ...common,
    driver: serializedPGliteDriver(s.dataDir === 'memory://' ? {} : { dataDir: s.dataDir }),
  };
}
