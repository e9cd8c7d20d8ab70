import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { serializedPGliteDriver } from './serialized-pglite.js';

describe('the embedded database pool', () => {
  let ds: DataSource;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    ds = await new DataSource({ type: 'postgres', driver: serializedPGliteDriver({}), installExtensions: false, uuidExtension: 'pgcrypto' }).initialize();
    await ds.query('CREATE TABLE notes (text text NOT NULL)');
    // An initdb in memory: ~10 s of CPU, a few minutes of wall time on a loaded 2-core machine.
  }, 240_000);

  afterAll(async () => {
    await ds?.destroy();
  });

  it('isolates a transaction that rolls back from the writes running beside it', async () => {
    const rolledBack = ds
      .transaction(async (m) => {
        await m.query(`INSERT INTO notes VALUES ('from the failed transaction')`);
        await sleep(50);
        throw new Error('refused');
      })
      .catch((e: unknown) => e);
    const committed = ds.transaction(async (m) => {
      await m.query(`INSERT INTO notes VALUES ('committed')`);
    });
    const plain = ds.query(`INSERT INTO notes VALUES ('outside any transaction')`);
    await Promise.all([rolledBack, committed, plain]);
    expect(await rolledBack).toBeInstanceOf(Error);
    const rows = (await ds.query('SELECT text FROM notes ORDER BY text')) as { text: string }[];
    expect(rows.map((r) => r.text)).toEqual(['committed', 'outside any transaction']);
  });

  it('keeps serving after a query fails', async () => {
    await expect(ds.query('SELECT * FROM no_such_table')).rejects.toThrow();
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
