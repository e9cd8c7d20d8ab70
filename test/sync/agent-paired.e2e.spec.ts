// The paired snapshot format end to end (#20 §1): a real controller publishing with FEDPBX_SNAPSHOT_FORMAT=paired
// (PostgreSQL), a private nats-server with the agents' real permissions, and a real agent process (apps/agent/dist)
// writing its Asterisk include files. A plan-only write reaches the agent as one shared part (its site part is not
// put again), a site-only write as one site part, and the rollout shows the site at its new head either way.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteRollout } from '@fedpbx/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationStore } from '../../apps/controller/src/federation/federation-store.js';
import type { TestApp } from '../../apps/controller/src/testing/test-app.js';
import { testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import type { AgentProcess } from '../support/agent-process.js';
import type { TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, openConfigBucket, readSnapshot, startFoundedSync, startSyncedAgent, stopFoundedSync } from './controller-harness.js';

describe(`an agent applies paired snapshots from the controller (nats-server + ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let t: TestApp;
  let token: string;
  let agent: AgentProcess | undefined;
  let etc: string;

  const rollout = async (): Promise<SiteRollout> => (await t.request('GET', '/api/v1/sites/moscow/rollout', undefined, token)).body['data'] as SiteRollout;
  /** Waits until the agent reports the site's head applied; returns the rollout then. */
  const inSyncAt = async (revision: number): Promise<SiteRollout> => {
    await expect.poll(async () => { const r = await rollout(); return `${r.state} ${r.appliedRevision}`; }, { timeout: 20_000, interval: 200 }).toBe(`in-sync ${revision}`);
    return rollout();
  };
  const sitePartSeq = async (): Promise<number> => {
    const nc = await connectWithCreds(nats.url, await nats.controllerCreds());
    try {
      return (await readSnapshot(await openConfigBucket(nc, 'moscow')))?.seq ?? 0;
    } finally {
      await nc.close();
    }
  };
  const version = async (): Promise<number> => (await t.app.get(FederationStore).read()).version;
  const pjsip = (): string => readFileSync(join(etc, 'fedpbx', 'pjsip_fedpbx.conf'), 'utf8');

  beforeAll(async () => {
    ({ nats, db, t, token } = await startFoundedSync({ FEDPBX_SNAPSHOT_FORMAT: 'paired' }));
    etc = mkdtempSync(join(tmpdir(), 'fedpbx-etc-'));
    agent = await startSyncedAgent(t, nats, 'moscow', { configDir: etc, includeDir: join(etc, 'fedpbx') });
  }, 90_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await stopFoundedSync({ nats, db, t });
  });

  it('reaches its head, then a plan-only write (no site part put), then a site-only write, then a rollback', { timeout: 90_000 }, async () => {
    // The head is the version of the last write that changed moscow's snapshot (site revisions are versions).
    const first = await inSyncAt((await rollout()).currentRevision);
    expect(first.currentRevision).toBeLessThanOrEqual(await version());

    // Plan-only for moscow: a number range at another site changes the shared part alone.
    const seq = await sitePartSeq();
    expect((await t.request('POST', '/api/v1/number-ranges', { id: 'nr-paired', siteId: 'piter', from: '7000', to: '7099' }, token)).status).toBe(201);
    const planWide = await version();
    expect((await rollout()).currentRevision).toBe(planWide);
    await inSyncAt(planWide);
    expect(await sitePartSeq()).toBe(seq);

    // Site-only: moscow's own extension renamed - one site part, applied with the shared part held.
    const r = await t.request('GET', '/api/v1/extensions/e-m102', undefined, token);
    const { id: _id, sipSecretSet: _s, voicemailPinSet: _p, ...body } = r.body['data'] as Record<string, unknown>;
    expect((await t.request('PUT', '/api/v1/extensions/e-m102', { ...body, displayName: 'Paired Rename' }, token)).status).toBe(200);
    const siteOnly = await version();
    await inSyncAt(siteOnly);
    expect(await sitePartSeq()).toBe(seq + 1);
    // The include files are written after the apply is reported.
    await expect.poll(pjsip, { timeout: 10_000, interval: 200 }).toContain('"Paired Rename" <102>');

    // Rollback to the plan-wide write's revision: a new revision with the old name.
    const rb = await t.request('POST', `/api/v1/sites/moscow/revisions/${planWide}/rollback`, undefined, token);
    expect(rb.status).toBe(200);
    const rolledBack = await version();
    await inSyncAt(rolledBack);
    await expect.poll(pjsip, { timeout: 10_000, interval: 200 }).toContain('"Anna Smirnova" <102>');
  });
});
