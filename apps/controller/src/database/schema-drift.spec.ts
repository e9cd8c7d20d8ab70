import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseLabel, type TestDatabase } from '../testing/test-database.js';
import { dataSourceOptions } from './data-source-options.js';
import { pendingSchemaChanges } from './schema-drift.js';

describe(`migrations and entities (${testDatabaseLabel()})`, () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await new DataSource(dataSourceOptions(db.settings)).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('migrating a fresh database leaves nothing for the entities to change (no drift)', async () => {
    await ds.runMigrations();
    const { up } = await pendingSchemaChanges(ds);
    // When this fails: run apps/controller/scripts/generate-migration.ts <Name> and commit the migration.
    expect(up).toEqual([]);
  });

  it('migrations revert cleanly', async () => {
    for (let i = 0; i < ds.migrations.length; i++) await ds.undoLastMigration();
    const tables = await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`);
    expect(tables).toEqual([]);
    await ds.runMigrations();
  });
});
