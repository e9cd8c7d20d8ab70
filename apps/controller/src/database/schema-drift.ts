import type { DataSource } from 'typeorm';

/**
 * The SQL TypeORM would run to bring the migrated schema in line with the entities: empty when migrations and
 * entities agree. Used by the drift test and by `scripts/generate-migration.ts`.
 */
export async function pendingSchemaChanges(ds: DataSource): Promise<{ up: string[]; down: string[] }> {
  const log = await ds.driver.createSchemaBuilder().log();
  return { up: log.upQueries.map((q) => q.query), down: log.downQueries.map((q) => q.query) };
}
