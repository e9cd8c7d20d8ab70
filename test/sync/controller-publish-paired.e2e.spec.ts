import type { NatsConnection } from '@nats-io/transport-node';
import { Subjects } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../apps/controller/src/config.js';
import { FederationStore } from '../../apps/controller/src/federation/federation-store.js';
import { SnapshotPublisher } from '../../apps/controller/src/sync/snapshot-publisher.js';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import type { TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import type { TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, controllerVerifyingKey, openConfigBucket, readSharedText, readSnapshot, secretsWithAudience, startFoundedSync, startSyncedController, stopFoundedSync, until, verifyPublishedPaired } from './controller-harness.js';

const SITES = ['moscow', 'piter', 'kazan'] as const;

describe('FEDPBX_SNAPSHOT_FORMAT', () => {
  it('is split unless set, and a value other than split or paired is refused naming the setting', () => {
    expect(loadControllerConfig({}).FEDPBX_SNAPSHOT_FORMAT).toBe('split');
    expect(loadControllerConfig({ FEDPBX_SNAPSHOT_FORMAT: 'paired' }).FEDPBX_SNAPSHOT_FORMAT).toBe('paired');
    expect(() => loadControllerConfig({ FEDPBX_SNAPSHOT_FORMAT: 'format4' })).toThrow(/FEDPBX_SNAPSHOT_FORMAT: 'split' or 'paired'/);
  });
});

describe('paired snapshot publishing, FEDPBX_SNAPSHOT_FORMAT=paired (PostgreSQL, private nats-server)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let t: TestApp;
  let token: string;
  const clients: NatsConnection[] = [];

  const rollout = async (siteId: string) => (await t.request('GET', `/api/v1/sites/${siteId}/rollout`, undefined, token)).body['data'] as { currentRevision: number; publishedRevision: number | null };
  const agentConnection = async (siteId: string) => {
    const nc = await connectWithCreds(nats.url, await nats.agentCreds(siteId), Subjects.inboxPrefix(siteId));
    clients.push(nc);
    return nc;
  };
  /** The site part and the shared part, each read with the site's own credentials (what its agent can read). */
  const partsAs = async (siteId: string) => {
    const nc = await agentConnection(siteId);
    const site = await readSnapshot(await openConfigBucket(nc, siteId));
    const shared = await readSharedText(nc);
    if (site === null || shared === null) throw new Error(`${siteId}: a bucket is empty`);
    return { site, shared };
  };
  /** Waits until the rollout records the site's head as published; returns the parts its agent reads then. */
  const published = async (siteId: string) => {
    await until(`${siteId} head recorded as published`, async () => {
      const r = await rollout(siteId);
      return r.publishedRevision === r.currentRevision ? r : undefined;
    });
    return partsAs(siteId);
  };
  const federation = async () => (await t.app.get(FederationStore).read()).federation;

  beforeAll(async () => {
    ({ nats, db, t, token } = await startFoundedSync({ FEDPBX_SNAPSHOT_FORMAT: 'paired' }));
  });
  afterAll(async () => {
    for (const nc of clients) await nc.close();
    await stopFoundedSync({ nats, db, t });
  });

  it('publishes every site as a paired site part and shared part that pair, with only what the site may know', async () => {
    const key = controllerVerifyingKey(t);
    const fed = await federation();
    const secrets = secretsWithAudience(fed);
    expect(secrets.length).toBeGreaterThan(3);
    for (const siteId of SITES) {
      const { site, shared } = await published(siteId);
      expect(site.raw['format']).toBe(4);
      expect(site.raw['requiresShared']).toBeLessThanOrEqual(shared.revision);
      const snapshot = verifyPublishedPaired(site.text, shared.text, siteId, [key]);
      // Site revisions are federation versions here: the pair's revision is the site's head.
      expect(snapshot.revision).toBe((await rollout(siteId)).currentRevision);
      expect(snapshot.config).toEqual(buildSiteConfig(fed, siteId));
      const text = site.text + shared.text;
      for (const { secret, sites } of secrets) expect(text.includes(secret), `${siteId} knows ${secret}: ${sites.join(',')}`).toBe(sites.includes(siteId));
    }
  });

  it('a plan-wide write is one shared part put and no site part put; every site reaches the new head', async () => {
    const before = new Map<string, number>();
    for (const siteId of SITES) before.set(siteId, (await published(siteId)).site.seq);
    const sharedBefore = (await partsAs('moscow')).shared;
    const r = await t.request('POST', '/api/v1/number-ranges', { id: 'nr-plan-wide', siteId: 'piter', from: '7000', to: '7099' }, token);
    expect(r.status).toBe(201);
    expect([...(r.body['changedSites'] as string[])].sort()).toEqual([...SITES].sort());
    const version = (await t.app.get(FederationStore).read()).version;
    expect((r.body['revisions'] as { revision: number }[]).every((x) => x.revision === version)).toBe(true);
    await t.app.get(SnapshotPublisher).idle();
    const fed = await federation();
    for (const siteId of SITES) {
      const { site, shared } = await published(siteId);
      expect(site.seq, `${siteId} site part not put again`).toBe(before.get(siteId));
      expect(shared.seq).toBe(sharedBefore.seq + 1);
      expect(shared.revision).toBe(version);
      // The new shared part with the site part the agent holds is the site's new config, at the new head.
      const snapshot = verifyPublishedPaired(site.text, shared.text, siteId, [controllerVerifyingKey(t)]);
      expect(snapshot.config).toEqual(buildSiteConfig(fed, siteId));
      expect(snapshot.revision).toBe(version);
      expect((await rollout(siteId)).currentRevision).toBe(version);
    }
  });

  it('a site-only write is one site part put and no shared part put; only that site moves', async () => {
    const before = new Map<string, number>();
    for (const siteId of SITES) before.set(siteId, (await published(siteId)).site.seq);
    const sharedBefore = (await partsAs('kazan')).shared;
    const heads = new Map<string, number>();
    for (const siteId of SITES) heads.set(siteId, (await rollout(siteId)).currentRevision);
    const r = await t.request('POST', '/api/v1/extensions', { siteId: 'kazan', number: '205', displayName: 'New in Kazan' }, token);
    expect(r.status).toBe(201);
    expect(r.body['changedSites']).toEqual(['kazan']);
    const { site, shared } = await published('kazan');
    await t.app.get(SnapshotPublisher).idle();
    expect(site.seq).toBe(before.get('kazan')! + 1);
    expect(shared.seq).toBe(sharedBefore.seq);
    // Written after the shared part in force (S > R): it pairs with it without being listed there.
    expect(site.revision).toBeGreaterThan(shared.revision);
    const snapshot = verifyPublishedPaired(site.text, shared.text, 'kazan', [controllerVerifyingKey(t)]);
    expect(snapshot.config).toEqual(buildSiteConfig(await federation(), 'kazan'));
    expect(JSON.stringify(snapshot.config)).toContain('New in Kazan');
    for (const siteId of ['moscow', 'piter']) {
      expect((await partsAs(siteId)).site.seq, siteId).toBe(before.get(siteId));
      expect((await rollout(siteId)).currentRevision, siteId).toBe(heads.get(siteId));
    }
  });

  it('a restarted controller puts no site part again', { timeout: 60_000 }, async () => {
    const before = new Map<string, number>();
    for (const siteId of SITES) before.set(siteId, (await published(siteId)).site.seq);
    const dataDir = (t as TestApp & { dataDir: string }).dataDir;
    await t.close();
    t = await startSyncedController(nats, { databaseUrl: db.url, dataDir, env: { FEDPBX_SNAPSHOT_FORMAT: 'paired' } });
    token = await t.login(ADMIN.username, ADMIN.password);
    await until('reconciled', async () => {
      await t.app.get(SnapshotPublisher).idle();
      return (await readSharedText(await agentConnection('moscow'))) !== null ? true : undefined;
    });
    await t.app.get(SnapshotPublisher).idle();
    const fed = await federation();
    for (const siteId of SITES) {
      const { site, shared } = await partsAs(siteId);
      expect(site.seq, siteId).toBe(before.get(siteId));
      expect(verifyPublishedPaired(site.text, shared.text, siteId, [controllerVerifyingKey(t)]).config).toEqual(buildSiteConfig(fed, siteId));
    }
  });
});
