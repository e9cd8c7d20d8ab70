import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subjects } from '@fedpbx/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { startController, type ControllerProcess } from '../support/controller-process.js';
import type { TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, openConfigBucket, readSnapshot } from '../sync/controller-harness.js';

/**
 * The environment every replica of one federation shares: the database, NATS with the account signing key, the
 * snapshot signing key (`<data dir>/signing-key.pem`, made by the first replica to start: on separate hosts every
 * replica gets the same FEDPBX_SIGNING_KEY_FILE) - and no FEDPBX_TOKEN_SECRET, so the replicas use the
 * access-token key kept in the database.
 */
export function replicaEnv(nats: TestNatsServer, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-replicas-'));
  const issuerFile = join(dir, 'nats-issuer.json');
  writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
  return {
    DATABASE_URL: databaseUrl,
    FEDPBX_NATS_URL: nats.url,
    FEDPBX_NATS_ISSUER_FILE: issuerFile,
    FEDPBX_DATA_DIR: dir,
    FEDPBX_TOKEN_SECRET: '',
    FEDPBX_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Starts `n` replicas one after another. */
export async function startReplicas(env: Record<string, string>, n: number): Promise<ControllerProcess[]> {
  const out: ControllerProcess[] = [];
  for (let i = 0; i < n; i++) out.push(await startController(env));
  return out;
}

/** Reads sites' KV buckets as their agents would (each with its own credentials). */
export class BucketReader {
  private readonly connections = new Map<string, NatsConnection>();

  constructor(private readonly nats: TestNatsServer) {}

  /** The revision in the site's bucket, or 0 when it holds none (yet). */
  async revision(siteId: string): Promise<number> {
    let nc = this.connections.get(siteId);
    if (nc === undefined) {
      nc = await connectWithCreds(this.nats.url, await this.nats.agentCreds(siteId), Subjects.inboxPrefix(siteId));
      this.connections.set(siteId, nc);
    }
    const kv = await openConfigBucket(nc, siteId).catch(() => undefined);
    if (kv === undefined) return 0;
    return (await readSnapshot(kv))?.revision ?? 0;
  }

  async close(): Promise<void> {
    for (const nc of this.connections.values()) await nc.close();
  }
}
