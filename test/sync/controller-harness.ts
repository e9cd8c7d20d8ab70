import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import type { SiteSnapshot } from '@fedpbx/contracts';
import { decodeSnapshotValue, importPublicKey, pairedSnapshot, runSteps, SiteConfigAssembler, verifyPairedSitePartSteps, verifySharedSteps, verifySitePartSteps, type VerifyingKey } from '@fedpbx/signing';
import { SnapshotSigningKey } from '../../apps/controller/src/sync/snapshot-signing-key.js';
import { startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import type { TestNatsServer } from '../support/nats-server.js';

/** The controller in-process on its own PostgreSQL database, syncing through `nats` (issuer file and key in a temp dir). */
export async function startSyncedController(nats: TestNatsServer, options: { databaseUrl?: string; dataDir?: string; env?: Record<string, string> } = {}): Promise<TestApp & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'fedpbx-ctl-'));
  const issuerFile = join(dataDir, 'nats-issuer.json');
  writeFileSync(issuerFile, JSON.stringify(nats.issuer), { mode: 0o600 });
  const t = await startTestApp({
    env: {
      FEDPBX_NATS_URL: nats.url,
      FEDPBX_NATS_ISSUER_FILE: issuerFile,
      FEDPBX_DATA_DIR: dataDir,
      ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {}),
      ...options.env,
    },
  });
  return Object.assign(t, { dataDir });
}

/** The key agents verify this controller's snapshots with. */
export function controllerVerifyingKey(t: TestApp): VerifyingKey {
  const key = t.app.get(SnapshotSigningKey).key;
  if (key === undefined) throw new Error('the controller has no signing key');
  return importPublicKey(key.keyId, key.publicKeyPem);
}

/** A NATS client with given credentials; an agent's must use its site's inbox prefix (its permissions allow no other). */
export async function connectWithCreds(url: string, creds: string, inboxPrefix?: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    ...(inboxPrefix !== undefined ? { inboxPrefix } : {}),
  });
}

export function openConfigBucket(nc: NatsConnection, siteId: string): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: 3000 })).open(Subjects.configBucket(siteId));
}

/** What a site's bucket holds: the parsed snapshot (unverified) and its text, its KV sequence, and whether it was stored gzipped. */
export async function readSnapshot(kv: KV): Promise<{ raw: Record<string, unknown>; text: string; revision: number; seq: number; gzipped: boolean } | null> {
  const e = await kv.get(Subjects.SNAPSHOT_KEY);
  if (e === null || e.operation !== 'PUT') return null;
  const text = decodeSnapshotValue(e.value);
  const raw = JSON.parse(text) as Record<string, unknown>;
  return { raw, text, revision: raw['revision'] as number, seq: e.revision, gzipped: e.value[0] === 0x1f && e.value[1] === 0x8b };
}

/** The shared part's text in the shared bucket (unverified), read with `nc`'s permissions; null when empty. */
export async function readSharedText(nc: NatsConnection): Promise<{ text: string; revision: number; seq: number } | null> {
  const kv = await new Kvm(jetstream(nc, { timeout: 3000 })).open(Subjects.SHARED_BUCKET);
  const e = await kv.get(Subjects.SHARED_KEY);
  if (e === null || e.operation !== 'PUT') return null;
  const text = decodeSnapshotValue(e.value);
  // The envelope is the first line (a chunked shared part: its chunks follow, one a line).
  return { text, revision: (JSON.parse(text.split('\n', 1)[0] as string) as { revision: number }).revision, seq: e.revision };
}

/** A published site part and shared part verified as an agent verifies them (format 2), assembled into the snapshot. */
export function verifyPublishedPair(siteText: string, sharedText: string, siteId: string, keys: readonly VerifyingKey[]): SiteSnapshot {
  const shared = runSteps(verifySharedSteps(sharedText, keys));
  return runSteps(verifySitePartSteps(siteText, siteId, keys, shared, new SiteConfigAssembler())).snapshot;
}

/** A paired site part and shared part (format 4) verified and paired as an agent does; throws `shared-missing` when they do not pair. */
export function verifyPublishedPaired(siteText: string, sharedText: string, siteId: string, keys: readonly VerifyingKey[]): SiteSnapshot {
  const shared = runSteps(verifySharedSteps(sharedText, keys));
  return pairedSnapshot(runSteps(verifyPairedSitePartSteps(siteText, siteId, keys)), shared, new SiteConfigAssembler());
}

export { until } from '../support/until.js';
