import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { databaseMode, dataSourceOptions, type DatabaseSettings } from './data-source-options.js';

/** Key of the session advisory lock held while migrations run ("fedM" in ASCII). */
const MIGRATIONS_LOCK = 0x6665644d;

/**
 * Runs the pending migrations, one controller at a time: replicas started together would otherwise both see a
 * migration as pending and the second would fail on what the first created. The lock is PostgreSQL's (held by a
 * session of its own, so it outlives the migrations' transactions and ends with a crashed process); the embedded
 * database has one process anyway.
 */
async function migrate(ds: DataSource, settings: DatabaseSettings): Promise<void> {
  if (databaseMode(settings) === 'embedded') {
    await ds.runMigrations({ transaction: 'each' });
    return;
  }
  const lock = ds.createQueryRunner();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATIONS_LOCK]);
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      // The session goes back to the pool: it must not keep the lock (a failed start ends the process anyway).
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK]).catch(() => undefined);
    }
  } finally {
    await lock.release();
  }
}

/** Provides the migrated DataSource: migrations run at start, in one transaction each. */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  static forRoot(settings: DatabaseSettings): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async (): Promise<DataSource> => {
            const ds = await new DataSource(dataSourceOptions(settings)).initialize();
            await migrate(ds, settings);
            return ds;
          },
        },
      ],
      exports: [DataSource],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
