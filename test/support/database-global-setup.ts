// Vitest global setup: decides once per run which database the controller suites use, and says so once when it is
// not PostgreSQL. The decision goes to the test workers through the environment (they are started after this).
// An embedded run also gets the one initdb'd data dir its test databases are copied from, removed at the end.
import { createEmbeddedTemplate, EMBEDDED_TEMPLATE_ENV, TEST_DATABASE_KIND_ENV, testDatabaseKind } from '../../apps/controller/src/testing/test-database.js';

export default async function decideTestDatabase(): Promise<(() => void) | undefined> {
  const { kind, reason } = await testDatabaseKind();
  process.env[TEST_DATABASE_KIND_ENV] = kind;
  if (kind !== 'embedded') return undefined;
  process.stdout.write(
    `\n*** ${reason}: the controller suites run on the embedded database (PGlite), their titles say "embedded database";\n` +
      `*** what needs PostgreSQL itself is not run and says why. Start PostgreSQL on 127.0.0.1:5432 (trust auth) or set\n` +
      `*** FEDPBX_TEST_PG_ADMIN_URL to run them on PostgreSQL.\n\n`,
  );
  const template = await createEmbeddedTemplate();
  process.env[EMBEDDED_TEMPLATE_ENV] = template.dir;
  return () => template.remove();
}
