import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { canonicalJson, Subjects } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { signSitePart } from '@fedpbx/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationStore } from '../../apps/controller/src/federation/federation-store.js';
import { SnapshotPublisher } from '../../apps/controller/src/sync/snapshot-publisher.js';
import { SnapshotSigningKey } from '../../apps/controller/src/sync/snapshot-signing-key.js';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import type { TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import type { TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, controllerVerifyingKey, openConfigBucket, readSharedText, readSnapshot, secretsWithAudience, startFoundedSync, startSyncedController, stopFoundedSync, until, verifyPublishedPair } from './controller-harness.js';

const SITES = ['moscow', 'piter', 'kazan'] as const;

describe('snapshot publishing to per-site KV buckets (PostgreSQL, private nats-server)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let t: TestApp;
  let token: string;
  const agents: NatsConnection[] = [];

  const head = async (siteId: string): Promise<number> => {
    const r = await t.request('GET', `/api/v1/sites/${siteId}/rollout`, undefined, token);
    return (r.body['data'] as { currentRevision: number }).currentRevision;
  };
  const bucketOf = async (siteId: string) => {
    const nc = await connectWithCreds(nats.url, await nats.agentCreds(siteId), Subjects.inboxPrefix(siteId));
    agents.push(nc);
    return openConfigBucket(nc, siteId);
  };
  /** The shared part as the site's agent reads it (its own credentials). */
  const sharedAs = async (siteId: string) => {
    const nc = await connectWithCreds(nats.url, await nats.agentCreds(siteId), Subjects.inboxPrefix(siteId));
    agents.push(nc);
    const shared = await readSharedText(nc);
    if (shared === null) throw new Error('the shared bucket is empty');
    return shared;
  };
  /** Waits until the site's bucket holds its head revision; returns what it holds. */
  const published = async (siteId: string) => {
    const want = await head(siteId);
    const kv = await until(`bucket of ${siteId}`, () => bucketOf(siteId).catch(() => undefined));
    return until(`${siteId} revision ${want} in its bucket`, async () => {
      const s = await readSnapshot(kv);
      return s !== null && s.revision === want ? s : undefined;
    });
  };

  beforeAll(async () => {
    ({ nats, db, t, token } = await startFoundedSync());
  });
  afterAll(async () => {
    for (const nc of agents) await nc.close();
    await stopFoundedSync({ nats, db, t });
  });

  it('publishes every site signed, verifiable by the agent, with only what that site may know', async () => {
    const key = controllerVerifyingKey(t);
    const fed = (await t.app.get(FederationStore).read()).federation;
    const secrets = secretsWithAudience(fed);
    expect(secrets.length).toBeGreaterThan(3);
    for (const siteId of SITES) {
      const s = await published(siteId);
      const shared = await sharedAs(siteId);
      // Format 2: the site part names the shared part every site reads; together they are the site's whole view.
      const snapshot = verifyPublishedPair(s.text, shared.text, siteId, [key]);
      expect(snapshot.revision).toBe(await head(siteId));
      expect(snapshot.config).toEqual(buildSiteConfig(fed, siteId));
      expect(s.gzipped).toBe(true);
      // What the site's agent can read: its site part and the shared part.
      const text = s.text + shared.text;
      for (const { secret, sites } of secrets) expect(text.includes(secret), `${siteId} knows ${secret}: ${sites.join(',')}`).toBe(sites.includes(siteId));
    }
  });

  it('a plan-wide write puts the shared part once and every site part names it', async () => {
    const before = await sharedAs('moscow');
    const r = await t.request('POST', '/api/v1/number-ranges', { id: 'nr-plan-wide', siteId: 'piter', from: '7000', to: '7099' }, token);
    expect(r.status).toBe(201);
    expect([...(r.body['changedSites'] as string[])].sort()).toEqual([...SITES].sort());
    const parts = await Promise.all(SITES.map((siteId) => published(siteId)));
    const after = await sharedAs('kazan');
    expect(after.revision).toBeGreaterThan(before.revision);
    // One put of the shared part for the write (its sequence moved by one), named by every site part.
    expect(after.seq).toBe(before.seq + 1);
    expect(after.text).toContain('nr-plan-wide');
    for (const [i, siteId] of SITES.entries()) {
      const part = parts[i]!;
      expect(part.text).not.toContain('nr-plan-wide');
      expect(verifyPublishedPair(part.text, after.text, siteId, [controllerVerifyingKey(t)]).config.federation.numberRanges.some((n) => n.id === 'nr-plan-wide')).toBe(true);
    }
  });

  it('a write publishes exactly the sites whose snapshot changed', async () => {
    const before = new Map<string, number>();
    for (const siteId of SITES) before.set(siteId, (await published(siteId)).seq);
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'kazan', number: '205', displayName: 'New in Kazan' }, token);
    expect(r.status).toBe(201);
    expect(r.body['changedSites']).toEqual(['kazan']);
    const kazan = await published('kazan');
    expect(kazan.seq).toBeGreaterThan(before.get('kazan')!);
    expect(JSON.stringify(kazan.raw)).toContain('New in Kazan');
    // Let any (wrong) publish of the others land before looking.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const siteId of ['moscow', 'piter']) expect((await published(siteId)).seq, siteId).toBe(before.get(siteId));
  });

  it('NATS down during writes: the API still answers, and the newest revision is published when NATS returns', async () => {
    await nats.kill();
    const names = ['First', 'Second', 'Third'];
    for (const [i, name] of names.entries()) {
      const started = Date.now();
      const r = await t.request('POST', '/api/v1/extensions', { siteId: 'piter', number: `31${i}`, displayName: `Offline ${name}` }, token);
      expect(r.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    const rollout = await t.request('GET', '/api/v1/sites/piter/rollout', undefined, token);
    expect(rollout.body['data']).toMatchObject({ state: 'publishing', currentRevision: await head('piter') });
    await nats.start();
    const s = await published('piter');
    const text = JSON.stringify(s.raw);
    for (const name of names) expect(text).toContain(`Offline ${name}`);
    // The rollout rows follow the puts in batches (SnapshotPublisher.record): the table catches up with the bucket.
    const after = await until('the rollout table records the put', async () => {
      const r = await t.request('GET', '/api/v1/sites/piter/rollout', undefined, token);
      return (r.body['data'] as { publishedRevision?: number }).publishedRevision === s.revision ? r : undefined;
    });
    expect(after.body['data']).toMatchObject({ publishedRevision: s.revision, state: 'never-seen' });
  });

  it('a restarted controller publishes what was committed while it could not reach NATS', { timeout: 60_000 }, async () => {
    await nats.kill();
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'moscow', number: '106', displayName: 'While away' }, token);
    expect(r.status).toBe(201);
    const dataDir = (t as TestApp & { dataDir: string }).dataDir;
    await t.close();
    await nats.start();
    t = await startSyncedController(nats, { databaseUrl: db.url, dataDir });
    token = await t.login(ADMIN.username, ADMIN.password);
    const s = await published('moscow');
    expect(JSON.stringify(s.raw)).toContain('While away');
    // Same key file: what agents were given at enrollment still verifies.
    verifyPublishedPair(s.text, (await sharedAs('moscow')).text, 'moscow', [controllerVerifyingKey(t)]);
  });

  it('never puts an older revision over a newer one in the bucket', async () => {
    const now = await published('kazan');
    // Another writer (say a second controller) already put a newer revision of kazan into the bucket.
    const other = await connectWithCreds(nats.url, await nats.controllerCreds());
    agents.push(other);
    // Signed with the controller's own key: a value the controller did not sign would be replaced (next test).
    const key = t.app.get(SnapshotSigningKey).key;
    if (key === undefined) throw new Error('the controller has no signing key');
    const partJson = canonicalJson(now.raw['config']);
    const newer = `${signSitePart('kazan', partJson, now.revision + 5, key, new Date()).head}${partJson}}`;
    await (await openConfigBucket(other, 'kazan')).put(Subjects.SNAPSHOT_KEY, newer);
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'kazan', number: '206', displayName: 'Older than the bucket' }, token);
    expect(r.status).toBe(201);
    expect(await head('kazan')).toBe(now.revision + 1);
    await t.app.get(SnapshotPublisher).idle();
    const s = await readSnapshot(await bucketOf('kazan'));
    expect(s?.revision).toBe(now.revision + 5);
  });

  it('replaces a bucket value it did not sign, whatever revision that value claims', async () => {
    const now = await published('piter');
    const other = await connectWithCreds(nats.url, await nats.controllerCreds());
    agents.push(other);
    const forged = JSON.stringify({ ...now.raw, revision: now.revision + 100 });
    await (await openConfigBucket(other, 'piter')).put(Subjects.SNAPSHOT_KEY, forged);
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'piter', number: '351', displayName: 'After a forged value' }, token);
    expect(r.status).toBe(201);
    const revision = await head('piter');
    await until('the real head replaces the forged value', async () => (await readSnapshot(await bucketOf('piter')))?.revision === revision);
  });

  it('a deleted site\'s bucket is removed; a new site gets one', async () => {
    const created = await t.request('POST', '/api/v1/sites', { id: 'omsk', name: 'Omsk' }, token);
    expect(created.status).toBe(201);
    await published('omsk');
    const deleted = await t.request('DELETE', '/api/v1/sites/omsk', undefined, token);
    expect(deleted.status).toBe(200);
    const controller = await connectWithCreds(nats.url, await nats.controllerCreds());
    agents.push(controller);
    await until('omsk bucket removed', async () => {
      const names: string[] = [];
      for await (const b of new Kvm(controller).list()) names.push(b.bucket);
      return !names.includes(Subjects.configBucket('omsk')) && names.includes(Subjects.configBucket('moscow'));
    });
  });
});
