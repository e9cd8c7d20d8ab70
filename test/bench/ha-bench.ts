// npm run bench:ha - two controller replicas on one PostgreSQL and one nats-server (issue #20 §2, §4): writes/s through
// both without stickiness, CDRs/s ingested by both, and what killing one (SIGKILL) costs.
//
// Phases, each on the same federation (the founding scenario, HA_CLIENTS extensions of its own per client):
//  1. writes: HA_CLIENTS clients update their extension for HA_WRITE_SECONDS (default 10), alternating replicas
//     request by request (a round-robin load balancer) -> writes_per_s.
//  2. ingest: HA_CDRS CDRs (default 10,000) of two sites published as agents do, both replicas consuming the one
//     durable consumer -> cdr_ingest_per_s (first publish to last row stored).
//  3. failover: the clients write again and HA_CDRS more CDRs flow; after HA_KILL_AFTER_SEC replica 0 is killed
//     with SIGKILL. A client whose replica died retries the same write on the other (an error, never a hang).
//     failover_gap_ms: the longest a client went without an acknowledged write across the kill (what a user of the
//     dead replica sees); cluster_write_gap_ms: the longest no write at all was acknowledged. writes_lost: acknowledged
//     writes without their audit entry (0 expected); cdr_lost / cdr_duplicated over both floods (0 expected; the
//     dead replica's unacknowledged batch comes back after FEDPBX_EVENTS_ACK_WAIT_SEC, 5 here).
// Prints ONE JSON line, with the load average beside it (the machine is shared).
// Run: npm run bench:ha   (HA_WRITE_SECONDS, HA_CDRS, HA_CLIENTS, HA_KILL_AFTER_SEC to change the run)
import { loadavg } from 'node:os';
import { Subjects } from '@fedpbx/contracts';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { countCdrs, publishCdrs } from '../../apps/controller/src/ingest/testing/cdr-load.js';
import { createTestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { seedFoundingScenario, type ControllerProcess } from '../support/controller-process.js';
import { startNatsServer } from '../support/nats-server.js';
import { until } from '../support/until.js';
import { replicaEnv, startReplicas } from '../replicas/replicas-harness.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number; got ${JSON.stringify(raw)}`);
  return n;
}

const WRITE_SECONDS = envNumber('HA_WRITE_SECONDS', 10);
const CDRS = Math.round(envNumber('HA_CDRS', 10_000));
const CLIENTS = Math.round(envNumber('HA_CLIENTS', 4));
const KILL_AFTER_SEC = envNumber('HA_KILL_AFTER_SEC', 3);
const HANG_MS = 15_000;
const CDR_SITES = ['moscow', 'piter'] as const;

interface Ack {
  readonly client: number;
  readonly at: number;
  readonly displayName: string;
}

/** The clients: each updates its own extension over and over, round robin over the replicas it believes alive. */
class WriteLoad {
  readonly acks: Ack[] = [];
  readonly errors: { replica: number; ms: number }[] = [];
  readonly dead = new Set<number>();
  private seq = 0;

  constructor(
    private readonly replicas: readonly ControllerProcess[],
    private readonly token: string,
  ) {}

  async run(untilAt: number): Promise<void> {
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => this.client(c, untilAt)));
  }

  private async client(c: number, untilAt: number): Promise<void> {
    for (let i = 0; performance.now() < untilAt; i++) {
      const displayName = `Bench ${c} ${this.seq++}`;
      const body = { id: `e-ha-${c}`, siteId: 'piter', number: String(460 + c), displayName, sipSecret: `ha-${c}-secret-XYZ` };
      for (let replica = (c + i) % this.replicas.length, attempt = 0; ; replica = (replica + 1) % this.replicas.length, attempt++) {
        if (this.dead.has(replica)) continue;
        if (attempt > 2 * this.replicas.length) throw new Error(`client ${c}: every replica failed`);
        const t0 = performance.now();
        try {
          const r = await fetch(`${this.replicas[replica]!.url}/api/v1/extensions/e-ha-${c}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(HANG_MS),
          });
          const text = await r.text();
          if (r.status !== 200) throw new Error(`PUT answered ${r.status}: ${text.slice(0, 300)}`);
          this.acks.push({ client: c, at: performance.now(), displayName });
          break;
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('PUT answered')) throw error;
          if (error instanceof Error && error.name === 'TimeoutError') throw new Error(`client ${c}: replica ${replica} hung for ${HANG_MS} ms`, { cause: error });
          this.errors.push({ replica, ms: performance.now() - t0 });
          this.dead.add(replica);
        }
      }
    }
  }
}

async function agentConnections(nats: Awaited<ReturnType<typeof startNatsServer>>): Promise<NatsConnection[]> {
  return Promise.all(
    CDR_SITES.map(async (siteId) => connect({ servers: nats.url, authenticator: credsAuthenticator(new TextEncoder().encode(await nats.agentCreds(siteId))), inboxPrefix: Subjects.inboxPrefix(siteId) })),
  );
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const db = await createTestDatabase({ require: 'postgres' });
  const replicas = await startReplicas(replicaEnv(nats, db.url ?? '', { FEDPBX_EVENTS_ACK_WAIT_SEC: '5' }), 2);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const rowsOf = { query: async (text: string, params?: unknown[]) => (await sql.query(text, params)).rows };
  const stored = async (): Promise<{ rows: number; distinct: number }> => {
    let rows = 0;
    let distinct = 0;
    for (const siteId of CDR_SITES) {
      const c = await countCdrs(rowsOf, siteId);
      rows += c.rows;
      distinct += c.distinct;
    }
    return { rows, distinct };
  };
  try {
    await seedFoundingScenario(replicas[0]!);
    const token = await replicas[0]!.adminToken();
    for (let c = 0; c < CLIENTS; c++) {
      const r = await replicas[0]!.api('POST', '/api/v1/extensions', { id: `e-ha-${c}`, siteId: 'piter', number: String(460 + c), displayName: `Bench ${c}`, sipSecret: `ha-${c}-secret-XYZ` }, token);
      if (r.status !== 201) throw new Error(`extension e-ha-${c}: ${r.status} ${JSON.stringify(r.body)}`);
    }

    // 1. writes through both replicas.
    const steady = new WriteLoad(replicas, token);
    const w0 = performance.now();
    await steady.run(w0 + WRITE_SECONDS * 1000);
    const writesPerS = steady.acks.length / ((performance.now() - w0) / 1000);

    // 2. ingest by both replicas.
    let agents = await agentConnections(nats);
    const i0 = performance.now();
    await Promise.all(CDR_SITES.map((siteId, i) => publishCdrs(agents[i]!, siteId, CDRS / CDR_SITES.length, { window: 200 })));
    await until('first flood stored', async () => (await stored()).rows >= CDRS, 300_000);
    const ingestPerS = CDRS / ((performance.now() - i0) / 1000);
    for (const nc of agents) await nc.close();

    // 3. kill replica 0 while both loads run.
    agents = await agentConnections(nats);
    const failover = new WriteLoad(replicas, token);
    const f0 = performance.now();
    const writes = failover.run(f0 + (KILL_AFTER_SEC + WRITE_SECONDS) * 1000);
    const flood = Promise.all(CDR_SITES.map((siteId, i) => publishCdrs(agents[i]!, siteId, CDRS / CDR_SITES.length, { from: CDRS, window: 200 })));
    await new Promise((r) => setTimeout(r, KILL_AFTER_SEC * 1000));
    const killedAt = performance.now();
    process.kill(replicas[0]!.pid() ?? 0, 'SIGKILL');
    await Promise.all([writes, flood]);
    for (const nc of agents) await nc.close();
    await until('second flood stored', async () => (await stored()).rows >= 2 * CDRS, 300_000).catch(() => undefined);
    // Long enough for the dead replica's batch to come back (ack wait) and, if it were ever stored twice, to show.
    await new Promise((r) => setTimeout(r, 6000));
    const cdrs = await stored();

    const byClient = (acks: readonly Ack[], c: number): number[] => acks.filter((a) => a.client === c).map((a) => a.at);
    let failoverGap = 0;
    for (let c = 0; c < CLIENTS; c++) {
      const times = byClient(failover.acks, c);
      const before = times.filter((t) => t <= killedAt).at(-1) ?? f0;
      const after = times.find((t) => t > killedAt);
      if (after !== undefined) failoverGap = Math.max(failoverGap, after - Math.max(before, killedAt));
    }
    const all = failover.acks.map((a) => a.at).sort((a, b) => a - b);
    let clusterGap = 0;
    for (let i = 1; i < all.length; i++) if (all[i - 1]! <= killedAt + 60_000 && all[i]! >= killedAt) clusterGap = Math.max(clusterGap, all[i]! - Math.max(all[i - 1]!, killedAt));

    // Every acknowledged write has its audit entry (committed), also those the dead replica acknowledged.
    const audited = new Set(
      (await sql.query<{ name: string }>(`SELECT after->>'displayName' AS name FROM audit_log WHERE action = 'extension.update' AND object_id LIKE 'e-ha-%'`)).rows.map((r) => r.name),
    );
    const writesLost = [...steady.acks, ...failover.acks].filter((a) => !audited.has(a.displayName)).length;

    process.stdout.write(
      `${JSON.stringify({
        replicas: 2,
        clients: CLIENTS,
        writes_per_s: Math.round(writesPerS * 10) / 10,
        cdr_ingest_per_s: Math.round(ingestPerS),
        failover_gap_ms: Math.round(failoverGap),
        cluster_write_gap_ms: Math.round(clusterGap),
        failover_client_errors: failover.errors.length,
        failover_error_max_ms: Math.round(Math.max(0, ...failover.errors.map((e) => e.ms))),
        writes_acked: steady.acks.length + failover.acks.length,
        writes_lost: writesLost,
        cdrs: 2 * CDRS,
        cdr_lost: 2 * CDRS - cdrs.distinct,
        cdr_duplicated: cdrs.rows - cdrs.distinct,
        loadavg_1m: Math.round(loadavg()[0]! * 10) / 10,
      })}\n`,
    );
  } finally {
    await sql.end();
    for (const c of replicas) await c.stop();
    await nats.stop();
    await db.drop();
  }
}

await main();
