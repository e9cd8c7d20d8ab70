import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPrivateKey, generateSigningKey } from '@fedpbx/signing';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { startTestApp, type TestApp } from '../testing/test-app.js';
import { SIGNING_PUBLIC_KEY } from './signing-key-agreement.js';

// Replicas of one federation on one PostgreSQL database, each started with its own FEDPBX_SIGNING_KEY_FILE.
const dir = mkdtempSync(join(tmpdir(), 'fedpbx-key-agreement-'));
const keyFile = (name: string): string => {
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, exportPrivateKey(generateSigningKey().privateKey), { mode: 0o600 });
  return file;
};
const open: TestApp[] = [];
let db: TestDatabase | undefined;
afterAll(async () => {
  for (const app of open) await app.close();
  await db?.drop();
});

async function replica(env: Record<string, string>): Promise<TestApp> {
  const app = await startTestApp({ env: { DATABASE_URL: db?.url ?? '', ...env } });
  open.push(app);
  return app;
}

async function recorded(): Promise<string[]> {
  const client = new pg.Client({ connectionString: db?.url });
  await client.connect();
  try {
    return (await client.query<{ value: string }>('SELECT value FROM controller_keys WHERE name = $1', [SIGNING_PUBLIC_KEY])).rows.map((r) => r.value);
  } finally {
    await client.end();
  }
}

describe('controller replicas sign with one key', { timeout: 60_000 }, () => {
  it('the first replica records its public key; one with the same key file starts, one with another refuses, naming the setting', async () => {
    db = await createTestDatabase({ require: 'postgres' });
    const shared = keyFile('shared');
    await replica({ FEDPBX_SIGNING_KEY_FILE: shared });
    const [pem] = await recorded();
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    await replica({ FEDPBX_SIGNING_KEY_FILE: shared });

    const other = keyFile('other');
    const refused = await replica({ FEDPBX_SIGNING_KEY_FILE: other }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(Error);
    const message = (refused as Error).message;
    expect(message).toContain(`FEDPBX_SIGNING_KEY_FILE (${other})`);
    expect(message).toMatch(/signing key ctl-[0-9a-f]{16} is not the one the other replicas sign with \(ctl-[0-9a-f]{16}, recorded in the database/);
    // The record stays the first replica's.
    expect(await recorded()).toEqual([pem]);
  });

  it('the default key file of a replica\'s own data dir is checked too; an in-memory key is neither recorded nor checked', async () => {
    const own = await createTestDatabase({ require: 'postgres' });
    try {
      // In memory: nothing recorded, and any number of such replicas start.
      await startTestApp({ env: { DATABASE_URL: own.url ?? '', FEDPBX_DATA_DIR: 'memory://', FEDPBX_NATS_URL: 'nats://127.0.0.1:1' } }).then((a) => a.close());
      const client = new pg.Client({ connectionString: own.url });
      await client.connect();
      const rows = (await client.query('SELECT value FROM controller_keys WHERE name = $1', [SIGNING_PUBLIC_KEY])).rows;
      await client.end();
      expect(rows).toEqual([]);
      // Two data dirs, two default keys: the second replica refuses.
      const first = await startTestApp({ env: { DATABASE_URL: own.url ?? '', FEDPBX_DATA_DIR: join(dir, 'data-a'), FEDPBX_NATS_URL: 'nats://127.0.0.1:1' } });
      open.push(first);
      await expect(startTestApp({ env: { DATABASE_URL: own.url ?? '', FEDPBX_DATA_DIR: join(dir, 'data-b'), FEDPBX_NATS_URL: 'nats://127.0.0.1:1' } })).rejects.toThrow(
        `FEDPBX_SIGNING_KEY_FILE (unset: ${join(dir, 'data-b')}/signing-key.pem)`,
      );
    } finally {
      await own.drop().catch(() => undefined);
    }
  });
});
