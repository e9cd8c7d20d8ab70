import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollResponse } from '@fedpbx/contracts';
import { credsInfo } from '@fedpbx/nats-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEnrollment } from '../../apps/agent/src/sync/enrollment-file.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { startAgent, type AgentProcess } from '../support/agent-process.js';
import { placeCall, type CallRecord } from '../support/asterisk/fastagi-peer.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { startSyncedController } from './controller-harness.js';

/**
 * The built agent process with credentials from the real enrollment API (lifetime 60 s) renewing them after 5% of
 * it, while the faithful FastAGI peer keeps placing calls: every call is routed from the snapshot throughout the
 * renewal, and after head office revokes the box the hub cuts it off - and calls still route, offline.
 */
describe('the agent renews its credentials without the calls noticing (built agent, private nats-server)', () => {
  let nats: TestNatsServer;
  let t: TestApp;
  let admin: string;
  let agent: AgentProcess;
  let stateDir: string;
  let firstKey: string;

  const call = (): Promise<CallRecord> =>
    placeCall({ host: '127.0.0.1', port: agent.agiPort, timeoutMs: 5000, callerId: { num: '101' }, channel: 'PJSIP/101-00000001', script: 'internal', extension: '102', onDial: () => ({ status: 'ANSWER' }) });
  /** Places calls one after another until `done` resolves; every call's dial targets. */
  const callsUntil = async (done: Promise<unknown>): Promise<string[][]> => {
    let over = false;
    void done.finally(() => (over = true));
    const dials: string[][] = [];
    while (!over) dials.push((await call()).dials.map((d) => d.rawData));
    dials.push((await call()).dials.map((d) => d.rawData));
    return dials;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    t = await startSyncedController(nats, { env: { FEDPBX_AGENT_CREDS_TTL_SEC: '60' } });
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
    const issued = await t.request('POST', '/api/v1/sites/kazan/enrollment-tokens', undefined, admin);
    const enrolled = EnrollResponse.parse((await t.request('POST', '/api/v1/enroll', { token: issued.body['token'] })).body);
    stateDir = mkdtempSync(join(tmpdir(), 'fedpbx-renew-'));
    await writeEnrollment(stateDir, enrolled);
    firstKey = credsInfo(enrolled.natsCreds).userKey;
    agent = await startAgent({ FEDPBX_STATE_DIR: stateDir, FEDPBX_NATS_CREDS_RENEW_AT: '0.05', FEDPBX_LOG_LEVEL: 'info' });
    await agent.waitForLog((l) => l.msg === 'snapshot applied', 15_000, true);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await t?.close();
    await nats?.stop();
  });

  it('renews after 5% of the lifetime (new key in its creds file, reconnected) while every call routes', async () => {
    const renewed = agent.waitForLog((l) => l.msg === 'NATS credentials renewed; reconnecting with them', 15_000, true);
    const reconnected = renewed.then(() => agent.waitForLog((l) => l.msg === 'NATS reconnected', 10_000));
    const dials = await callsUntil(reconnected);
    expect(dials.length).toBeGreaterThan(1);
    for (const d of dials) expect(d).toEqual(['PJSIP/102,20,tT']);
    const now = credsInfo(readFileSync(join(stateDir, 'nats.creds'), 'utf8'));
    expect(now.userKey).not.toBe(firstKey);
    const listed = (await t.request('GET', '/api/v1/sites/kazan/agent-credentials', undefined, admin)).body['items'] as { userKey: string; origin: string; state: string }[];
    expect(listed.find((c) => c.userKey === now.userKey)).toMatchObject({ origin: 'renewal', state: 'active' });
  });

  it('revoked, it is cut off by the hub, says so, and keeps routing calls offline', async () => {
    const refused = agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('the NATS hub refuses these credentials'), 15_000);
    const r = await t.request('POST', '/api/v1/sites/kazan/agent-credentials/revoke', undefined, admin);
    expect(r.status).toBe(200);
    const dials = await callsUntil(refused);
    for (const d of dials) expect(d).toEqual(['PJSIP/102,20,tT']);
    const after = await call();
    expect(after.dials.map((d) => d.rawData)).toEqual(['PJSIP/102,20,tT']);
  });
});
