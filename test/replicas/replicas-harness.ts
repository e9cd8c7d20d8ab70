import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subjects } from '@fedpbx/contracts';
import { decodeSnapshotValue } from '@fedpbx/signing';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { startController, type ControllerProcess } from '../support/controller-process.js';
import type { TestNatsServer } from '../support/nats-server.js';

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

/** Reads sites' KV buckets as their agents would (each with its own credentials); no Nest code, so benchmarks can use it under tsx. */
export class BucketReader {
  private readonly connections = new Map<string, NatsConnection>();

  constructor(private readonly nats: TestNatsServer) {}

  /** The revision in the site's bucket, or 0 when it holds none (yet). */
  async revision(siteId: string): Promise<number> {
    let nc = this.connections.get(siteId);
    if (nc === undefined) {
      const creds = new TextEncoder().encode(await this.nats.agentCreds(siteId));
      nc = await connect({ servers: this.nats.url, authenticator: credsAuthenticator(creds), inboxPrefix: Subjects.inboxPrefix(siteId) });
      this.connections.set(siteId, nc);
    }
    const kv = await new Kvm(jetstream(nc, { timeout: 3000 })).open(Subjects.configBucket(siteId)).catch(() => undefined);
    const entry = await kv?.get(Subjects.SNAPSHOT_KEY);
    if (entry === undefined || entry === null || entry.operation !== 'PUT') return 0;
    return (JSON.parse(decodeSnapshotValue(entry.value)) as { revision: number }).revision;
  }

  async close(): Promise<void> {
    for (const nc of this.connections.values()) await nc.close();
  }
}
