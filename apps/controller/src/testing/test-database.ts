import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { DatabaseSettings } from '../database/data-source-options.js';

const ADMIN_URL = process.env['FEDPBX_TEST_PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Set by the test run's global setup (test/support/database-global-setup.ts) so each test file need not probe again. */
export const TEST_DATABASE_KIND_ENV = 'FEDPBX_TEST_DATABASE_KIND';
/** Set by the same global setup on an embedded run: the initdb'd PGlite data dir every embedded test database copies. */
export const EMBEDDED_TEMPLATE_ENV = 'FEDPBX_TEST_PGLITE_TEMPLATE';

export type TestDatabaseKind = 'postgres' | 'embedded';

export interface TestDatabase {
  /** postgres: a database of its own on the test PostgreSQL; embedded: PGlite in a data dir of its own. */
  readonly kind: TestDatabaseKind;
  /** The PostgreSQL URL (postgres only). */
  readonly url: string | undefined;
  readonly name: string;
  /** What the controller needs to use it: DATABASE_URL, or FEDPBX_DATA_DIR for the embedded database. */
  readonly env: Readonly<Record<string, string>>;
  /** The same for a DataSource of our own (dataSourceOptions). */
  readonly settings: DatabaseSettings;
  drop(): Promise<void>;
}

/** Connection-level failures: nothing listens (or answers) there. Anything else (auth, permissions) is a real error. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'ECONNRESET']);

let probed: Promise<{ kind: TestDatabaseKind; reason: string }> | undefined;

/**
 * Which database the controller suites run on: PostgreSQL when it answers at FEDPBX_TEST_PG_ADMIN_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), else the embedded database (PGlite) - so a fresh machine with only
 * Node runs them. `reason` says why, for the one line the test run prints.
 */
export function testDatabaseKind(): Promise<{ kind: TestDatabaseKind; reason: string }> {
  const decided = process.env[TEST_DATABASE_KIND_ENV];
  if (decided === 'postgres' || decided === 'embedded') return Promise.resolve({ kind: decided, reason: `${TEST_DATABASE_KIND_ENV}=${decided}` });
  probed ??= (async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      return { kind: 'postgres' as const, reason: `PostgreSQL at ${redacted(ADMIN_URL)}` };
    } catch (error) {
      const code = (error as { code?: string }).code;
      const timedOut = error instanceof Error && /timeout/i.test(error.message);
      if ((code !== undefined && UNREACHABLE.has(code)) || timedOut) {
        return { kind: 'embedded' as const, reason: `no PostgreSQL at ${redacted(ADMIN_URL)} (${code ?? (error instanceof Error ? error.message : String(error))})` };
      }
      throw new Error(`the test PostgreSQL at ${redacted(ADMIN_URL)} answered but refused us: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probed;
}

/**
 * A fresh, empty database of its own for one test file, dropped after: on PostgreSQL `fedpbx_test_<random>`, else
 * (no PostgreSQL reachable) the embedded database in a new data dir. `require: 'postgres'` refuses the fallback, for
 * what only PostgreSQL has (a second process on the same database, concurrent sessions).
 */
export async function createTestDatabase(options: { require?: 'postgres' } = {}): Promise<TestDatabase> {
  const name = `fedpbx_test_${randomBytes(6).toString('hex')}`;
  const { kind, reason } = await testDatabaseKind();
  if (kind === 'embedded') {
    if (options.require === 'postgres') throw new Error(`this suite needs PostgreSQL: ${reason}`);
    const dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
    seedEmbeddedDataDir(dataDir);
    return {
      kind,
      url: undefined,
      name,
      env: { FEDPBX_DATA_DIR: dataDir },
      settings: { dataDir },
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    name,
    env: { DATABASE_URL: url.toString() },
    settings: { url: url.toString(), dataDir: '' },
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/**
 * PGlite's initdb costs ~10 s of CPU (30-45 s of wall time on a loaded machine) and each embedded test database
 * would pay it; booting a copied data dir costs ~1.5 s. So an embedded run makes one initdb'd data dir (no schema:
 * every database still runs the controller's migrations itself) and each database starts as a copy of it.
 * `remove` is for the run's teardown.
 */
export async function createEmbeddedTemplate(): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-test-pglite-template-'));
  try {
    const db = await PGlite.create({ dataDir: dir });
    await db.close();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Makes `dataDir` (a new or existing directory without a database) a copy of the run's template, so the embedded
 * database opened there boots without an initdb. Without a template (a test file run outside the global setup)
 * it does nothing and PGlite runs initdb itself, as it does for a user.
 */
export function seedEmbeddedDataDir(dataDir: string): void {
  const template = process.env[EMBEDDED_TEMPLATE_ENV];
  if (template === undefined || template === '' || existsSync(join(dataDir, 'PG_VERSION'))) return;
  cpSync(template, dataDir, { recursive: true });
}

function redacted(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * For test titles: which database the controller suites of this run use, so a run without PostgreSQL says so on
 * every suite that would otherwise claim it (the kind comes from the run's global setup).
 */
export function testDatabaseLabel(): string {
  return process.env[TEST_DATABASE_KIND_ENV] === 'embedded' ? 'embedded database - no PostgreSQL reachable' : 'PostgreSQL';
}

/**
 * A test's time limit for this run: PGlite (PostgreSQL in WebAssembly, one connection) takes up to ~3x as long as
 * PostgreSQL for a test of hundreds of requests, so an embedded run gives such a test three times its limit.
 */
export function timeLimit(ms: number): number {
  return process.env[TEST_DATABASE_KIND_ENV] === 'embedded' ? ms * 3 : ms;
}
