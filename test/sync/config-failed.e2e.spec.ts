// An agent that cannot render or write its Asterisk include files says so, and the controller shows it: real
// controller (PostgreSQL), a private nats-server with the agents' real permissions, a real agent process
// (apps/agent/dist) writing into a temp Asterisk config dir. Before: the rollout read "in-sync" and the only trace
// was the agent's log (issue 16 §4).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteRollout } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { testDatabaseLabel, type TestDatabase } from '../../apps/controller/src/testing/test-database.js';
import type { AgentProcess } from '../support/agent-process.js';
import type { TestNatsServer } from '../support/nats-server.js';
import { startFoundedSync, startSyncedAgent, startSyncedController, stopFoundedSync } from './controller-harness.js';

describe(`an include-file failure at an agent reaches the controller as config-failed (nats-server + ${testDatabaseLabel()})`, () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let t: TestApp;
  let token: string;
  let agent: AgentProcess | undefined;
  let etc: string;

  const rollout = async (): Promise<SiteRollout> => (await t.request('GET', '/api/v1/sites/moscow/rollout', undefined, token)).body['data'] as SiteRollout;
  const rename = async (name: string): Promise<void> => {
    const r = await t.request('GET', '/api/v1/extensions/e-m102', undefined, token);
    const { id: _id, sipSecretSet: _s, voicemailPinSet: _p, ...body } = r.body['data'] as Record<string, unknown>;
    expect((await t.request('PUT', '/api/v1/extensions/e-m102', { ...body, displayName: name }, token)).status).toBe(200);
  };

  beforeAll(async () => {
    ({ nats, db, t, token } = await startFoundedSync());
    etc = mkdtempSync(join(tmpdir(), 'fedpbx-etc-'));
    // The include dir's parent is a file: every write fails with ENOTDIR until the admin fixes it.
    writeFileSync(join(etc, 'blocked'), '');
    agent = await startSyncedAgent(t, nats, 'moscow', { configDir: etc, includeDir: join(etc, 'blocked', 'fedpbx') });
  }, 90_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await stopFoundedSync({ nats, db, t });
  });

  it('shows config-failed, never in-sync, with the reason and the object, and in-sync once a revision is written', async () => {
    // The agent applies the head revision (calls route by it) but cannot write its files.
    await expect.poll(async () => (await rollout()).state, { timeout: 20_000, interval: 200 }).toBe('config-failed');
    const failed = await rollout();
    expect(failed.appliedRevision).toBe(failed.currentRevision);
    expect(failed.configFailure).toMatchObject({
      revision: failed.currentRevision,
      kind: 'write',
      code: 'ENOTDIR',
      object: join(etc, 'blocked', 'fedpbx', 'pjsip_fedpbx.conf'),
    });
    expect(failed.configFailure?.reason).toContain('ENOTDIR');
    // The whole federation's view: the same state in the list.
    const all = await t.request('GET', '/api/v1/rollout', undefined, token);
    expect(JSON.stringify(all.body)).toContain('"config-failed"');

    // A new revision while the directory is still blocked: still config-failed, now for that revision.
    await rename('Anna S.');
    await expect.poll(async () => (await rollout()).configFailure?.revision, { timeout: 15_000, interval: 200 }).toBe((await rollout()).currentRevision);
    expect((await rollout()).state).toBe('config-failed');

    // The admin fixes the directory; the next revision is written, and the site reads in-sync again.
    rmSync(join(etc, 'blocked'));
    mkdirSync(join(etc, 'blocked', 'fedpbx'), { recursive: true });
    await rename('Anna Smirnova');
    await expect.poll(async () => (await rollout()).state, { timeout: 15_000, interval: 200 }).toBe('in-sync');
    expect((await rollout()).configFailure).toBeNull();
    const header = readFileSync(join(etc, 'blocked', 'fedpbx', 'voicemail_fedpbx.conf'), 'utf8');
    expect(header).toContain('#include blocked/fedpbx/voicemail_fedpbx.conf');
    expect(header).toContain('101 => 510101,Ivan Petrov');
  });

  it('a stored value the rules no longer accept (a trunk secret starting with >, written before the rule) is not shipped: config-failed with the object named, in-sync once fixed', async () => {
    const before = await rollout();
    // As if written by an older controller: straight into the table, and the controller started again on it (it
    // reads the federation at start); then any write makes a new revision of moscow.
    await t.app.get(DataSource).query(`UPDATE trunks SET secret = '>old-trunk-secret' WHERE id = 't-moscow-city'`);
    const dataDir = (t as TestApp & { dataDir: string }).dataDir;
    await t.close();
    t = await startSyncedController(nats, { databaseUrl: db.url, dataDir });
    token = await t.login(ADMIN.username, ADMIN.password);
    await rename('Anna Smirnova-Ivanova');
    // Before: the snapshot was signed and shipped, the agent refused it whole and the site read `refused`.
    await expect.poll(async () => (await rollout()).state, { timeout: 15_000, interval: 200 }).toBe('config-failed');
    const r = await rollout();
    expect(r.configFailure).toMatchObject({ revision: r.currentRevision, kind: 'render', code: 'invalid-stored-value', object: 'trunk t-moscow-city', field: 'secret' });
    expect(r.configFailure?.reason).toContain('must not start with >');
    expect(JSON.stringify(r)).not.toContain('old-trunk-secret');
    // Withheld: never published, the agent keeps running the revision it had and refused nothing.
    expect(r.publishedRevision).toBe(before.currentRevision);
    expect(r.appliedRevision).toBe(before.currentRevision);
    expect(r.refused).toBeNull();

    // The admin sets a secret the rules accept: the next revision is published, applied and written.
    const trunk = (await t.request('GET', '/api/v1/trunks/t-moscow-city', undefined, token)).body['data'] as Record<string, unknown>;
    const { id: _id, secretSet: _s, ...body } = trunk;
    const put = await t.request('PUT', '/api/v1/trunks/t-moscow-city', { ...body, secret: 'new-trunk-secret-1' }, token);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await expect.poll(async () => (await rollout()).state, { timeout: 15_000, interval: 200 }).toBe('in-sync');
    expect((await rollout()).configFailure).toBeNull();
    expect(readFileSync(join(etc, 'blocked', 'fedpbx', 'pjsip_fedpbx.conf'), 'utf8')).toContain('new-trunk-secret-1');
  });
});
