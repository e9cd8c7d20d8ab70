import { Subjects } from '@fedpbx/contracts';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { cdrEnvelope } from './cdr-envelopes.js';

/** Anything that runs SQL: a TypeORM DataSource or EntityManager, a pg Pool. */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface PublishCdrsOptions {
  /** First call number (CDR ids and msg-ids are `<site>-...<n>`, so ranges that overlap are the same calls). */
  readonly from?: number;
  /** Publishes in flight at once (JetStream acks each). */
  readonly window?: number;
}

/**
 * Publishes `count` CDR envelopes of `siteId` to JetStream the way an agent does (subject
 * `fedpbx.events.<site>.cdr`, Nats-Msg-Id = envelope id) and resolves when every one is acknowledged by the
 * stream. Returns how many the stream took as duplicates of earlier publishes.
 */
export async function publishCdrs(nc: NatsConnection, siteId: string, count: number, options: PublishCdrsOptions = {}): Promise<{ duplicates: number }> {
  const js = jetstream(nc);
  const from = options.from ?? 0;
  const window = options.window ?? 500;
  const subject = Subjects.eventSubject(siteId, 'cdr');
  let duplicates = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const env = cdrEnvelope(siteId, from + next++);
      const ack = await js.publish(subject, JSON.stringify(env), { msgID: env.id });
      if (ack.duplicate) duplicates += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return { duplicates };
}

export async function countCdrs(db: SqlRunner, siteId: string): Promise<{ rows: number; distinct: number }> {
  const r = (await db.query(`SELECT count(*) AS rows, count(DISTINCT cdr_id) AS distinct FROM cdrs WHERE site_id = $1`, [siteId])) as { rows: string; distinct: string }[];
  return { rows: Number(r[0]?.rows ?? 0), distinct: Number(r[0]?.distinct ?? 0) };
}

/** Polls until `siteId` has at least `expected` CDRs stored (or the deadline passes); returns the final counts. */
export async function waitForCdrs(db: SqlRunner, siteId: string, expected: number, timeoutMs = 30_000): Promise<{ rows: number; distinct: number; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const c = await countCdrs(db, siteId);
    if (c.rows >= expected || Date.now() - started > timeoutMs) return { ...c, waitedMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 20));
  }
}
