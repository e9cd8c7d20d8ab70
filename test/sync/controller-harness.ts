import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import type { Federation, SiteSnapshot } from '@fedpbx/contracts';
import { decodeSnapshotValue, importPublicKey, pairedSnapshot, runSteps, SiteConfigAssembler, verifyPairedSitePartSteps, verifySharedSteps, verifySitePartSteps, type VerifyingKey } from '@fedpbx/signing';
import { SnapshotSigningKey } from '../../apps/controller/src/sync/snapshot-signing-key.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { createTestDatabase, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { writeAgentCreds } from './agent-harness.js';

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

/** What a sync spec starts from: a private nats-server, a database of its own, a synced controller on them with the founding scenario built, and the admin's token. */
export interface FoundedSync {
  readonly nats: TestNatsServer;
  readonly db: TestDatabase;
  readonly t: TestApp & { dataDir: string };
  readonly token: string;
}

/** Starts a {@link FoundedSync} (controller settings in `env`); what it started is stopped again if a later step fails. */
export async function startFoundedSync(env: Record<string, string> = {}): Promise<FoundedSync> {
  const nats = await startNatsServer();
  let db: TestDatabase | undefined;
  let t: (TestApp & { dataDir: string }) | undefined;
  try {
    db = await createTestDatabase();
    t = await startSyncedController(nats, { databaseUrl: db.url, env });
    const token = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, token);
    return { nats, db, t, token };
  } catch (error) {
    await stopFoundedSync({ nats, db, t });
    throw error;
  }
}

/** Stops what {@link startFoundedSync} started (the controller given: a spec may have restarted it). */
export async function stopFoundedSync(s: { nats?: TestNatsServer; db?: TestDatabase; t?: TestApp }): Promise<void> {
  await s.t?.close();
  await s.db?.drop();
  await s.nats?.stop();
}

/**
 * A real agent process (apps/agent/dist) of `siteId` syncing with the controller `t` through `nats`: its site's
 * credentials, the controller's key, Asterisk's config dir `configDir` and the include files in `includeDir`.
 */
export async function startSyncedAgent(t: TestApp, nats: TestNatsServer, siteId: string, asterisk: { configDir: string; includeDir: string }): Promise<AgentProcess> {
  const key = t.app.get(SnapshotSigningKey).key;
  if (key === undefined) throw new Error('no signing key');
  const stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-agent-'));
  return startAgent({
    FEDPBX_SITE_ID: siteId,
    FEDPBX_STATE_DIR: stateDir,
    FEDPBX_CONTROLLER_PUBLIC_KEY: key.publicKeyPem,
    FEDPBX_CONTROLLER_KEY_ID: key.keyId,
    FEDPBX_AGI_LISTEN: '127.0.0.1:0',
    FEDPBX_METRICS_LISTEN: '127.0.0.1:0',
    FEDPBX_LOG_LEVEL: 'info',
    FEDPBX_NATS_URL: nats.url,
    FEDPBX_NATS_CREDS: await writeAgentCreds(nats, siteId, stateDir),
    FEDPBX_ASTERISK_CONFIG_DIR: asterisk.configDir,
    FEDPBX_ASTERISK_INCLUDE_DIR: asterisk.includeDir,
  });
}

/** Every credential in the federation with the sites allowed to know it (ARCHITECTURE.md "Snapshot"). */
export function secretsWithAudience(fed: Federation): { secret: string; sites: string[] }[] {
  return [
    ...fed.extensions.flatMap((e) => (e.sipSecret !== undefined ? [{ secret: e.sipSecret, sites: [e.siteId] }] : [])),
    ...fed.trunks.flatMap((x) => (x.secret !== undefined ? [{ secret: x.secret, sites: [x.siteId] }] : [])),
    ...fed.links.flatMap((l) => (l.secret !== undefined ? [{ secret: l.secret, sites: [l.a, l.b] }] : [])),
  ];
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
