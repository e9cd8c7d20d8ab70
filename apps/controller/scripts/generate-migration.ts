/**
 * Writes a migration with the SQL that brings the migrated schema in line with the entities, checked against a
 * fresh throwaway PostgreSQL database. Usage (from the repo root):
 *   node --conditions=@fedpbx/source --import tsx apps/controller/scripts/generate-migration.ts <Name>
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { pendingSchemaChanges } from '../src/database/schema-drift.js';
import { createTestDatabase } from '../src/testing/test-database.js';

const name = process.argv[2];
if (name === undefined || !/^[A-Z][A-Za-z0-9]+$/.test(name)) throw new Error('usage: generate-migration.ts <PascalCaseName>');
const db = await createTestDatabase({ require: 'postgres' });
try {
  const ds = await new DataSource(dataSourceOptions(db.settings)).initialize();
  await ds.runMigrations();
  const { up, down } = await pendingSchemaChanges(ds);
  await ds.destroy();
  if (up.length === 0) {
    process.stdout.write('entities and migrations agree: nothing to generate\n');
  } else {
    const ts = Date.now();
    const q = (sql: string) => `    await q.query(${JSON.stringify(sql)});`;
    const file = `apps/controller/src/database/migrations/${ts}-${name}.ts`;
    writeFileSync(
      file,
      `import type { MigrationInterface, QueryRunner } from 'typeorm';\n\nexport class ${name}${ts} implements MigrationInterface {\n  name = '${name}${ts}';\n\n  async up(q: QueryRunner): Promise<void> {\n${up.map(q).join('\n')}\n  }\n\n  async down(q: QueryRunner): Promise<void> {\n${down.reverse().map(q).join('\n')}\n  }\n}\n`,
    );
    process.stdout.write(`wrote ${file}; add it to migrations/index.ts\n`);
  }
} finally {
  await db.drop();
}
