import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCredsRenewResponse, EnrollResponse, Subjects } from '@fedpbx/contracts';
import { credsInfo, newUserKey, presencePeersOfCreds, seedOfCreds, signRenewal } from '@fedpbx/nats-auth';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../apps/agent/src/logger.js';
import { AgentMetrics } from '../../apps/agent/src/metrics/agent-metrics.js';
import { CredsRenewer } from '../../apps/agent/src/sync/creds-renewer.js';
import { NatsLink } from '../../apps/agent/src/sync/nats-link.js';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { AgentCredentialsService } from '../../apps/controller/src/agent-credentials/agent-credentials.service.js';
import { ADMIN, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { openConfigBucket, readSnapshot, startSyncedController, until } from './controller-harness.js';

/**
 * Agent credentials end to end: the controller in-process, a real nats-server (full resolver). Credentials expire
 * after FEDPBX_AGENT_CREDS_TTL_SEC; the agent's CredsRenewer renews them over NATS and its link swaps to them;
 * re-enrollment, "box replaced" and decommission revoke at the hub - the old agent is disconnected and cannot
 * reconnect - and decommission removes the site, its dependents and its bucket in one audited write.
 */

const TTL_SEC = 600;
const encoder = new TextEncoder();

describe('agent credentials: lifetime, renewal, revocation, decommission (PostgreSQL, private nats-server)', () => {
  let nats: TestNatsServer;
  let t: TestApp;
  let admin: string;
  const open: NatsConnection[] = [];

  const enroll = async (siteId: string): Promise<EnrollResponse> => {
    const issued = await t.request('POST', `/api/v1/sites/${siteId}/enrollment-tokens`, undefined, admin);
    const r = await t.request('POST', '/api/v1/enroll', { token: issued.body['token'] });
    expect(r.status).toBe(200);
    return EnrollResponse.parse(r.body);
  };
  const agentConnection = async (siteId: string, creds: string, reconnect = false): Promise<NatsConnection> => {
    const nc = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(encoder.encode(creds)),
      inboxPrefix: Subjects.inboxPrefix(siteId),
      maxReconnectAttempts: reconnect ? -1 : 0,
      reconnectTimeWait: 100,
      ignoreAuthErrorAbort: true,
    });
    open.push(nc);
    return nc;
  };
  /** Every status of the connection until it closes, as text. */
  const closedWith = async (nc: NatsConnection, ms = 5000): Promise<string> => {
    const seen: string[] = [];
    const timer = setTimeout(() => void nc.close(), ms);
    for await (const s of nc.status()) {
      seen.push(s.type === 'error' ? s.error.message : s.type);
      if (s.type === 'close') break;
    }
    clearTimeout(timer);
    return seen.join('|');
  };
  const renewRequest = async (nc: NatsConnection, siteId: string, creds: string, signAs = creds) => {
    const next = newUserKey();
    const at = new Date().toISOString();
    const body = { userKey: credsInfo(creds).userKey, newUserKey: next.publicKey, at, sig: signRenewal(seedOfCreds(signAs), siteId, next.publicKey, at) };
    const reply = await nc.request(Subjects.credsRenew(siteId), JSON.stringify(body), { timeout: 5000 });
    return { answer: AgentCredsRenewResponse.parse(reply.json()), next };
  };
  const audit = async (): Promise<{ action: string; objectId: string; after: Record<string, unknown> | null }[]> =>
    (await t.request('GET', '/api/v1/audit?limit=200', undefined, admin)).body['items'] as never;

  beforeAll(async () => {
    nats = await startNatsServer();
    t = await startSyncedController(nats, { env: { FEDPBX_AGENT_CREDS_TTL_SEC: String(TTL_SEC) } });
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
  }, 60_000);
  afterAll(async () => {
    for (const nc of open) if (!nc.isClosed()) await nc.close();
    await t?.close();
    await nats?.stop();
  });

  it('describes its three routes in the OpenAPI document', async () => {
    const doc = (await t.request('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { description: string }> }>> };
    expect(doc.paths['/api/v1/sites/{siteId}/agent-credentials']?.['get']?.responses['200']?.description).toMatch(/revocation/);
    expect(doc.paths['/api/v1/sites/{siteId}/agent-credentials/revoke']?.['post']?.responses['200']?.description).toMatch(/rotatedLinks/);
    const decommission = doc.paths['/api/v1/sites/{siteId}/decommission']?.['post'];
    expect(JSON.stringify(decommission?.requestBody)).toMatch(/DecommissionBody/);
    expect(decommission?.responses['200']?.description).toMatch(/blockers/);
  });

  it('enrollment hands out credentials that expire after FEDPBX_AGENT_CREDS_TTL_SEC, listed by key for readers of the site', async () => {
    const answer = await enroll('kazan');
    const info = credsInfo(answer.natsCreds);
    expect(info.expiresAt).toBeDefined();
    expect(((info.expiresAt?.getTime() ?? 0) - Date.now()) / 1000).toBeGreaterThan(TTL_SEC - 30);
    expect(((info.expiresAt?.getTime() ?? 0) - Date.now()) / 1000).toBeLessThanOrEqual(TTL_SEC);
    const listed = await t.request('GET', '/api/v1/sites/kazan/agent-credentials', undefined, admin);
    expect(listed.status).toBe(200);
    expect(listed.body['items']).toEqual([expect.objectContaining({ userKey: info.userKey, origin: 'enrollment', state: 'active' })]);
    expect(JSON.stringify(listed.body)).not.toMatch(/SU[A-Z2-7]{20}|eyJ/);
    // The controller pushes the account's revocations to the hub once at start: under load that round may still
    // be running (state pending) when this test begins.
    await expect
      .poll(async () => ((await t.request('GET', '/api/v1/sites/kazan/agent-credentials', undefined, admin)).body['revocation'] as { state: string }).state, { timeout: 15_000 })
      .toBe('current');
    expect(listed.body['alarm']).toBeUndefined();
    // Had the box stayed offline past the lifetime: the site shows a critical alarm naming the way back.
    const ds = t.app.get(DataSource);
    await ds.query(`UPDATE agent_credentials SET issued_at = now() - interval '700 seconds', expires_at = now() - interval '100 seconds' WHERE user_key = $1`, [info.userKey]);
    const expired = await t.request('GET', '/api/v1/sites/kazan/agent-credentials', undefined, admin);
    expect(expired.body['alarm']).toMatchObject({ code: 'agent-credentials-expired', severity: 'critical', message: expect.stringMatching(/new token/) });
    expect((expired.body['items'] as { state: string }[])[0]?.state).toBe('expired');
  });

  it('the agent renews over NATS with a new key of its own, stores it, and its link reconnects once on it', async () => {
    const answer = await enroll('piter');
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-agent-creds-'));
    const file = join(dir, 'nats.creds');
    writeFileSync(file, answer.natsCreds, { mode: 0o600 });
    const log = createLogger('silent');
    const metrics = new AgentMetrics();
    const link = new NatsLink({ siteId: 'piter', servers: [nats.url], credsFile: file, metrics, log });
    const renewer = new CredsRenewer({ siteId: 'piter', credsFile: file, link, metrics, log, retryMs: 200 });
    link.start();
    try {
      await until('piter link up', () => link.connected);
      const downs: number[] = [];
      link.onDisconnected(() => downs.push(Date.now()));
      await renewer.renewNow();
      const renewed = credsInfo(readFileSync(file, 'utf8'));
      expect(renewed.userKey).not.toBe(credsInfo(answer.natsCreds).userKey);
      expect(seedOfCreds(readFileSync(file, 'utf8'))).toMatch(/^SU/);
      await until('piter link back on the new key', () => link.connected);
      // The new key works on the bus: the agent reads its own bucket with it.
      const nc = link.connection;
      if (nc === undefined) throw new Error('no connection');
      expect(await until('piter snapshot', async () => (await readSnapshot(await openConfigBucket(nc, 'piter'))) ?? undefined)).toMatchObject({ revision: expect.any(Number) });
      const listed = (await t.request('GET', '/api/v1/sites/piter/agent-credentials', undefined, admin)).body['items'] as { userKey: string; origin: string }[];
      expect(listed.map((c) => c.origin)).toEqual(['renewal', 'enrollment']);
      expect(listed[0]?.userKey).toBe(renewed.userKey);
      expect((await audit()).some((e) => e.action === 'agentCredentials.renew' && e.objectId === 'piter')).toBe(true);
      expect(downs.length).toBeLessThanOrEqual(1);
      expect((await metrics.natsCredsExpiry.get()).values[0]?.value).toBe((renewed.expiresAt?.getTime() ?? 0) / 1000);
    } finally {
      renewer.stop();
      await link.stop();
    }
  });

  it('an agent whose snapshot starts watching a site renews at once, and then reads that site\'s presence', async () => {
    const answer = await enroll('kazan');
    expect(presencePeersOfCreds(answer.natsCreds)).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-agent-creds-'));
    const file = join(dir, 'nats.creds');
    writeFileSync(file, answer.natsCreds, { mode: 0o600 });
    const log = createLogger('silent');
    const metrics = new AgentMetrics();
    const link = new NatsLink({ siteId: 'kazan', servers: [nats.url], credsFile: file, metrics, log });
    const renewer = new CredsRenewer({ siteId: 'kazan', credsFile: file, link, metrics, log, retryMs: 200 });
    link.start();
    try {
      await until('kazan link up', () => link.connected);
      // The admin makes kazan show piter's lamps (the console's Presence field, or PUT /sites/kazan).
      const site = (await t.request('GET', '/api/v1/sites/kazan', undefined, admin)).body as Record<string, unknown>;
      const put = await t.request('PUT', '/api/v1/sites/kazan', { ...((site['data'] as Record<string, unknown> | undefined) ?? site), presence: { remoteHints: 'listed', watch: [{ siteId: 'piter' }] } }, admin);
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      // What the agent does with the snapshot that carries remotePresence [piter].
      await renewer.coverPresence(['piter']);
      const renewed = readFileSync(file, 'utf8');
      expect(credsInfo(renewed).userKey).not.toBe(credsInfo(answer.natsCreds).userKey);
      expect(presencePeersOfCreds(renewed)).toEqual(['piter']);
      await until('kazan link back on the new key', () => link.connected);
      const nc = link.connection;
      if (nc === undefined) throw new Error('no connection');
      const got = new Promise<string>((resolve) => nc.subscribe(Subjects.presenceChanges('piter'), { max: 1, callback: (_e, m) => resolve(m.string()) }));
      await nc.flush();
      const piter = await agentConnection('piter', await nats.agentCreds('piter'));
      piter.publish(Subjects.presenceChanges('piter'), '{"siteId":"piter"}');
      expect(await got).toBe('{"siteId":"piter"}');
      // The same snapshot applied again asks nothing more.
      await renewer.coverPresence(['piter']);
      expect(credsInfo(readFileSync(file, 'utf8')).userKey).toBe(credsInfo(renewed).userKey);
    } finally {
      renewer.stop();
      await link.stop();
    }
  });

  it('refuses a renewal that the named key did not sign, and a site cannot ask for another one', async () => {
    const kazan = await enroll('kazan');
    const nc = await agentConnection('kazan', kazan.natsCreds);
    const stranger = await enroll('piter');
    const forged = await renewRequest(nc, 'kazan', kazan.natsCreds, stranger.natsCreds);
    expect(forged.answer).toMatchObject({ ok: false, code: 'bad-request' });
    await expect(nc.request(Subjects.credsRenew('piter'), '{}', { timeout: 2000 })).rejects.toThrow(/Permissions Violation|timeout/i);
  });

  it('re-enrolling a site (box replaced) disconnects the old box and refuses it at reconnect; the new one works', async () => {
    const old = await enroll('moscow');
    const nc = await agentConnection('moscow', old.natsCreds);
    await nc.flush();
    const closed = closedWith(nc);
    const fresh = await enroll('moscow');
    expect(await closed).toMatch(/Revoked|Authorization Violation/i);
    await expect(agentConnection('moscow', old.natsCreds)).rejects.toThrow(/Authorization Violation/i);
    const nc2 = await agentConnection('moscow', fresh.natsCreds);
    await nc2.flush();
    const states = (await t.request('GET', '/api/v1/sites/moscow/agent-credentials', undefined, admin)).body['items'] as { userKey: string; state: string }[];
    expect(states.find((c) => c.userKey === credsInfo(old.natsCreds).userKey)?.state).toBe('revoked');
    expect(states.find((c) => c.userKey === credsInfo(fresh.natsCreds).userKey)?.state).toBe('active');
  });

  it('revoking a lost box ends every credential of the site at the hub and rotates its link secrets (peers roll out)', async () => {
    const current = await enroll('kazan');
    const nc = await agentConnection('kazan', current.natsCreds);
    await nc.flush();
    const before = (await t.request('GET', '/api/v1/links', undefined, admin)).body['items'] as { id: string; a: string; b: string }[];
    const preview = await t.request('POST', '/api/v1/sites/kazan/agent-credentials/revoke?dryRun=true', undefined, admin);
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ dryRun: true, revokedKeys: [credsInfo(current.natsCreds).userKey], rotatedLinks: expect.arrayContaining(['l-moscow-kazan', 'l-piter-kazan']) });
    expect(nc.isClosed()).toBe(false);
    const closed = closedWith(nc);
    const r = await t.request('POST', '/api/v1/sites/kazan/agent-credentials/revoke', undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body['changedSites']).toEqual(expect.arrayContaining(['kazan', 'moscow', 'piter']));
    expect(await closed).toMatch(/Revoked|Authorization Violation/i);
    await expect(agentConnection('kazan', current.natsCreds)).rejects.toThrow(/Authorization Violation/i);
    // Nor can it renew (had it a way to ask): the controller refuses a revoked key.
    const next = newUserKey();
    const at = new Date().toISOString();
    const renewal = await t.app
      .get(AgentCredentialsService)
      .renew('kazan', { userKey: credsInfo(current.natsCreds).userKey, newUserKey: next.publicKey, at, sig: signRenewal(seedOfCreds(current.natsCreds), 'kazan', next.publicKey, at) }, new Date());
    expect(renewal).toMatchObject({ ok: false, code: 'revoked' });
    expect((await t.request('GET', '/api/v1/sites/kazan/agent-credentials', undefined, admin)).body['alarm']).toMatchObject({ code: 'agent-credentials-revoked' });
    expect(before.filter((l) => l.a === 'kazan' || l.b === 'kazan').length).toBe(2);
  });

  it('decommission: a dry run previews what goes and writes nothing; the real one needs the typed confirmation', async () => {
    const preview = await t.request('POST', '/api/v1/sites/piter/decommission?dryRun=true', {}, admin);
    expect(preview.status).toBe(200);
    const removes = preview.body['removes'] as Record<string, unknown>;
    expect(removes['numberRanges']).toEqual(['r-piter']);
    expect((removes['extensions'] as { number: string }[]).map((e) => e.number).sort()).toEqual(['301', '302']);
    expect(removes['trunks']).toEqual(['t-piter-city']);
    expect((removes['links'] as string[]).sort()).toEqual(['l-moscow-piter', 'l-piter-kazan']);
    expect(removes['peers']).toEqual(['kazan', 'moscow']);
    expect(preview.body['bucket']).toBe('fedpbx-config-piter');
    // Moscow's reception flow dials piter's 301: named as a blocker, and the real run refuses with nothing changed.
    expect(preview.body['validation']).toMatchObject({ ok: false });
    expect(preview.body['blockers']).toEqual([expect.objectContaining({ type: 'callFlow', id: 'f-moscow-reception', siteId: 'moscow', message: expect.stringMatching(/301/) })]);
    expect((await t.request('GET', '/api/v1/sites/piter', undefined, admin)).status).toBe(200);
    const unconfirmed = await t.request('POST', '/api/v1/sites/piter/decommission', { confirm: 'moscow' }, admin);
    expect(unconfirmed.status).toBe(400);
    expect(JSON.stringify(unconfirmed.body)).toMatch(/confirm/);
    const refused = await t.request('POST', '/api/v1/sites/piter/decommission', { confirm: 'piter' }, admin);
    expect(refused.status).toBe(409);
    expect((await t.request('GET', '/api/v1/sites/piter', undefined, admin)).status).toBe(200);
    expect(((await t.request('GET', '/api/v1/extensions?siteId=piter', undefined, admin)).body['items'] as unknown[]).length).toBe(2);
    expect(((await t.request('GET', '/api/v1/sites/piter/agent-credentials', undefined, admin)).body['items'] as { state: string }[]).some((c) => c.state === 'active')).toBe(true);

    // The flow no longer needs piter: the preview is clean.
    const flow = (await t.request('GET', '/api/v1/call-flows/f-moscow-reception', undefined, admin)).body['data'] as { id: string; nodes: { id: string; next?: Record<string, string> }[] };
    const { id: _id, ...rest } = flow;
    const nodes = flow.nodes.filter((n) => n.id !== 'spb').map((n) => (n.id === 'menu' ? { ...n, next: { ...n.next, 'digit:2': 'operator' } } : n));
    expect((await t.request('PUT', '/api/v1/call-flows/f-moscow-reception', { ...rest, nodes }, admin)).status).toBe(200);
    const clean = await t.request('POST', '/api/v1/sites/piter/decommission?dryRun=true', {}, admin);
    expect(clean.body['validation'], JSON.stringify(clean.body['validation'])).toMatchObject({ ok: true });
    expect(clean.body['blockers']).toEqual([]);
    expect(clean.body['changedSites']).toEqual(expect.arrayContaining(['kazan', 'moscow', 'piter']));
  });

  it('decommission removes the site and its dependents, revokes its agent (disconnected, refused at reconnect), deletes its bucket and rolls out its peers', async () => {
    const piter = await enroll('piter');
    const nc = await agentConnection('piter', piter.natsCreds);
    await until('piter bucket', async () => (await readSnapshot(await openConfigBucket(nc, 'piter'))) ?? undefined);
    const controllerNc = await agentConnection('moscow', (await enroll('moscow')).natsCreds);
    const moscowBefore = await until('moscow snapshot', async () => (await readSnapshot(await openConfigBucket(controllerNc, 'moscow'))) ?? undefined);
    const closed = closedWith(nc);
    const r = await t.request('POST', '/api/v1/sites/piter/decommission', { confirm: 'piter' }, admin);
    expect(r.status).toBe(200);
    expect(r.body['revokedKeys']).toEqual(expect.arrayContaining([credsInfo(piter.natsCreds).userKey]));
    expect(await closed).toMatch(/Revoked|Authorization Violation/i);
    await expect(agentConnection('piter', piter.natsCreds)).rejects.toThrow(/Authorization Violation/i);
    expect((await t.request('GET', '/api/v1/sites/piter', undefined, admin)).status).toBe(404);
    for (const path of ['extensions', 'number-ranges', 'trunks', 'inbound-routes']) {
      const left = (await t.request('GET', `/api/v1/${path}?siteId=piter`, undefined, admin)).body['items'] as unknown[];
      expect(left, path).toEqual([]);
    }
    const links = (await t.request('GET', '/api/v1/links', undefined, admin)).body['items'] as { a: string; b: string }[];
    expect(links.some((l) => l.a === 'piter' || l.b === 'piter')).toBe(false);
    // The peers' snapshots change and roll out; the site's bucket goes.
    await until('moscow rolled out', async () => ((await readSnapshot(await openConfigBucket(controllerNc, 'moscow')))?.revision ?? 0) > moscowBefore.revision);
    const jsmStreams = await until('piter bucket removed', async () => {
      const names: string[] = [];
      const ctl = await connect({ servers: nats.url, authenticator: credsAuthenticator(encoder.encode(await nats.controllerCreds())) });
      try {
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const jsm = await jetstreamManager(ctl);
        for await (const s of jsm.streams.list()) names.push(s.config.name);
      } finally {
        await ctl.close();
      }
      return names.includes('KV_fedpbx-config-piter') ? false : names;
    });
    expect(jsmStreams).toContain('KV_fedpbx-config-moscow');
    const entries = await audit();
    expect(entries.find((e) => e.action === 'site.decommission' && e.objectId === 'piter')?.after).toMatchObject({ links: expect.arrayContaining(['l-moscow-piter']) });
    expect(entries.some((e) => e.action === 'site.delete' && e.objectId === 'piter')).toBe(true);
    // A renewal by a credential of the removed site gets nothing.
    const again = await t.request('GET', '/api/v1/sites/piter/agent-credentials', undefined, admin);
    expect((again.body['items'] as { state: string }[]).every((c) => c.state === 'revoked')).toBe(true);
  });
});
