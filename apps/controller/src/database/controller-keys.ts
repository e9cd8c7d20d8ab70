import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * Random keys the controller replicas must share, kept in the database (`controller_keys`): the first replica to
 * need one makes it, the others (and later starts) read the same. Insert-if-absent then read, so replicas starting
 * together agree whoever wins the insert.
 */
@Injectable()
export class ControllerKeys {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  /** The key called `name` (32 random bytes, base64url), made now if no replica made it before. */
  async shared(name: string): Promise<string> {
    await this.ds.query('INSERT INTO controller_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32).toString('base64url')]);
    const rows: { value: string }[] = await this.ds.query('SELECT value FROM controller_keys WHERE name = $1', [name]);
    const value = rows[0]?.value;
    if (value === undefined) throw new Error(`controller key ${name} vanished after it was written`);
    return value;
  }

  /**
   * The value recorded under `name`: `value` when no replica recorded one before (it is recorded now), else the
   * recorded one, with when it was recorded. For a value each replica brings itself and all must agree on.
   */
  async recordedOr(name: string, value: string): Promise<{ value: string; recordedAt: Date }> {
    await this.ds.query('INSERT INTO controller_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
    const rows: { value: string; created_at: Date | string }[] = await this.ds.query('SELECT value, created_at FROM controller_keys WHERE name = $1', [name]);
    const row = rows[0];
    if (row === undefined) throw new Error(`controller key ${name} vanished after it was written`);
    return { value: row.value, recordedAt: new Date(row.created_at) };
  }
}
