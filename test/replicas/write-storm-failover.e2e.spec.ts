import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { seedFoundingScenario, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';
import { BucketReader, replicaEnv, startReplicas } from './replicas-harness.js';

const CLIENTS = 4;
const WRITES_PER_CLIENT = 50;
/** The kill comes once this many writes were acknowledged. */
const KILL_AFTER = 60;
/** Any answer (or connection error) later than this is a hang. */
const HANG_MS = 10_000;
/** Each client's extensions: its site and first number (inside that site's ranges, clear of the founding ones). */
const CLIENT_PLAN = [
  { siteId: 'moscow', first: 220 },
  { siteId: 'piter', first: 400 },
  { siteId: 'kazan', first: 220 },
  { siteId: 'piter', first: 350 },
] as const;

type Outcome = { kind: 'acked'; replica: number } | { kind: 'already'; replica: number } | { kind: 'error'; replica: number; ms: number; message: string };

/**
 * Two controller processes on one PostgreSQL and one nats-server, four clients writing through both without
 * stickiness (a load balancer's round robin), and one replica killed with SIGKILL mid-storm. A client whose request
 * dies with the replica gets a connection error, quickly, and sends the same write to the other replica, where it
 * is either made or answered 409 (it was committed before the kill). In the end every write is committed exactly
 * once, with its audit entry (nothing half-applied), and every site's KV bucket holds its head revision - also the
 * revisions the dead replica committed and did not get to publish.
 */
describe('controller replicas: kill -9 one during a write storm (PostgreSQL, nats-server, two controller processes)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let replicas: ControllerProcess[];
  let buckets: BucketReader;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase({ require: 'postgres' });
    replicas = await startReplicas(replicaEnv(nats, db.url ?? ''), 2);
    await seedFoundingScenario(replicas[0]!);
    buckets = new BucketReader(nats);
  }, 120_000);

  afterAll(async () => {
    await buckets?.close();
    for (const c of replicas ?? []) await c.stop();
    await nats?.stop();
    await db?.drop();
  });

  it(`commits every acknowledged write once and publishes it, while clients of the killed replica get errors, not hangs`, async () => {
    const token = await replicas[0]!.adminToken();
    const dead = new Set<number>();
    let acked = 0;
    let killedAt: number | undefined;
    const outcomes = new Map<string, Outcome[]>();

    const send = async (replica: number, body: Record<string, unknown>): Promise<Outcome> => {
      const t0 = performance.now();
      try {
        const r = await fetch(`${replicas[replica]!.url}/api/v1/extensions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(HANG_MS),
        });
        const answer = (await r.json()) as { error?: { code: string } };
        if (r.status === 201) return { kind: 'acked', replica };
        if (r.status === 409 && answer.error?.code === 'already-exists') return { kind: 'already', replica };
        throw new Error(`unexpected ${r.status} ${JSON.stringify(answer)}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('unexpected')) throw error;
        return { kind: 'error', replica, ms: performance.now() - t0, message: error instanceof Error ? `${error.name}: ${(error.cause as Error | undefined)?.message ?? error.message}` : String(error) };
      }
    };

    const client = async (c: number): Promise<void> => {
      const { siteId, first } = CLIENT_PLAN[c]!;
      for (let i = 0; i < WRITES_PER_CLIENT; i++) {
        const id = `e-storm-${c}-${i}`;
        const body = { id, siteId, number: String(first + i), displayName: `Storm ${c}-${i}`, sipSecret: `storm-${c}-${i}-secret-XYZ` };
        const tries: Outcome[] = [];
        outcomes.set(id, tries);
        // Round robin over the replicas believed alive; after a connection error, the same write to the other one.
        for (let replica = (c + i) % 2; ; replica = 1 - replica) {
          if (dead.has(replica)) replica = 1 - replica;
          const outcome = await send(replica, body);
          tries.push(outcome);
          if (outcome.kind !== 'error') break;
          dead.add(replica);
          if (tries.length > 4) throw new Error(`${id}: ${JSON.stringify(tries)}`);
        }
        if (tries.at(-1)?.kind === 'acked' && ++acked === KILL_AFTER) {
          killedAt = performance.now();
          process.kill(replicas[0]!.pid() ?? 0, 'SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    expect(killedAt).toBeDefined();

    const all = [...outcomes.values()].flat();
    const errors = all.filter((o): o is Extract<Outcome, { kind: 'error' }> => o.kind === 'error');
    // The killed replica's clients noticed (reset or refused), each within moments; the survivor never failed one.
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.replica === 0 && e.ms < HANG_MS)).toBe(true);
    // Every write ended acknowledged: made, or found made (409) when retried after an error.
    expect([...outcomes.values()].every((tries) => tries.at(-1)?.kind === 'acked' || tries.at(-1)?.kind === 'already')).toBe(true);
    expect([...outcomes.values()].filter((tries) => tries.at(-1)?.kind === 'already').every((tries) => tries.some((t) => t.kind === 'error'))).toBe(true);

    // Committed exactly once, each with its one audit entry: no write half-applied.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const rows = (await sql.query<{ id: string }>(`SELECT id FROM extensions WHERE id LIKE 'e-storm-%' ORDER BY id`)).rows.map((r) => r.id);
      expect(rows).toEqual([...outcomes.keys()].sort());
      const audits = (await sql.query<{ object_id: string; n: string }>(`SELECT object_id, count(*) AS n FROM audit_log WHERE action = 'extension.create' AND object_id LIKE 'e-storm-%' GROUP BY object_id`)).rows;
      expect(audits.length).toBe(CLIENTS * WRITES_PER_CLIENT);
      expect(audits.every((a) => Number(a.n) === 1)).toBe(true);

      // Every site's bucket reaches its head revision (the survivor takes over what the dead replica left unpublished).
      const heads = (await sql.query<{ site_id: string; revision: number }>(`SELECT site_id, max(revision) AS revision FROM site_config_revisions GROUP BY site_id`)).rows;
      for (const h of heads) await until(`${h.site_id} at revision ${h.revision} in its bucket`, async () => (await buckets.revision(h.site_id)) === Number(h.revision), 30_000);
    } finally {
      await sql.end();
    }
  }, 180_000);
});
