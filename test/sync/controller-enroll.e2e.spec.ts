import { DEFAULT_SIP_PORT, EnrollResponse, Subjects } from '@fedpbx/contracts';
import { importPublicKey } from '@fedpbx/signing';
import type { NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFoundingScenario } from '../../apps/controller/src/testing/scenario.js';
import { ADMIN, startTestApp, type TestApp } from '../../apps/controller/src/testing/test-app.js';
import { startNatsServer, type TestNatsServer } from '../support/nats-server.js';
import { connectWithCreds, controllerVerifyingKey, openConfigBucket, readSharedText, readSnapshot, startSyncedController, until, verifyPublishedPair } from './controller-harness.js';

const WG_KEY = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const PASSWORD = 'enroll-password-123';

describe('agent enrollment (PostgreSQL, private nats-server)', () => {
  let nats: TestNatsServer;
  let t: TestApp;
  let admin: string;
  const clients: NatsConnection[] = [];

  const issue = async (siteId: string, token = admin) => t.request('POST', `/api/v1/sites/${siteId}/enrollment-tokens`, undefined, token);
  const enroll = async (body: unknown) => t.request('POST', '/api/v1/enroll', body);

  beforeAll(async () => {
    nats = await startNatsServer();
    t = await startSyncedController(nats, { env: { FEDPBX_LOGIN_MAX_ATTEMPTS: '6' } });
    admin = await t.login(ADMIN.username, ADMIN.password);
    await buildFoundingScenario(t, admin);
  });
  afterAll(async () => {
    for (const nc of clients) await nc.close();
    await t?.close();
    await nats?.stop();
  });

  it('exchanges a one-time token for credentials that read the own site\'s bucket and no other', async () => {
    const issued = await issue('kazan');
    expect(issued.status).toBe(201);
    const token = issued.body['token'] as string;
    expect(issued.body).toEqual({ id: expect.any(String), siteId: 'kazan', token: expect.stringMatching(/^fpe_/), expiresAt: expect.any(String) });
    expect(Date.parse(issued.body['expiresAt'] as string) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);

    const r = await enroll({ token, wireguardPublicKey: WG_KEY, agentVersion: '0.1.0' });
    expect(r.status).toBe(200);
    const answer = EnrollResponse.parse(r.body);
    expect(answer).toMatchObject({ siteId: 'kazan', natsUrls: [nats.url], inboxPrefix: Subjects.inboxPrefix('kazan'), controllerKeyId: expect.stringMatching(/^ctl-[0-9a-f]{16}$/) });

    const nc = await connectWithCreds(answer.natsUrls[0]!, answer.natsCreds, answer.inboxPrefix);
    clients.push(nc);
    // With the agent's own credentials: its site part and the part every site shares, verified with the key it was given.
    const own = await until('kazan snapshot', async () => (await readSnapshot(await openConfigBucket(nc, 'kazan'))) ?? undefined);
    const shared = await until('the shared part', async () => (await readSharedText(nc)) ?? undefined);
    const snapshot = verifyPublishedPair(own.text, shared.text, 'kazan', [importPublicKey(answer.controllerKeyId, answer.controllerPublicKey)]);
    expect(snapshot.config.site.id).toBe('kazan');
    await expect(openConfigBucket(nc, 'piter').then((kv) => kv.get(Subjects.SNAPSHOT_KEY))).rejects.toThrow(/Permissions Violation for Publish to "\$JS\.API\.[A-Z.]+\.KV_fedpbx-config-piter"/);
  });

  it('stores the agent\'s WireGuard key on its site as a revisioned, audited write; the token and credentials are never audited', async () => {
    const site = await t.request('GET', '/api/v1/sites/kazan', undefined, admin);
    expect((site.body['data'] as { network: { wireguardPublicKey?: string } }).network.wireguardPublicKey).toBe(WG_KEY);
    const revisions = await t.request('GET', '/api/v1/sites/kazan/revisions?limit=1', undefined, admin);
    expect((revisions.body['items'] as { actor: string }[])[0]?.actor).toBe('agent:kazan');
    const audit = await t.request('GET', '/api/v1/audit?limit=50', undefined, admin);
    const entries = audit.body['items'] as { action: string; actor: string }[];
    expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(['enrollmentToken.create', 'enrollmentToken.use', 'site.update']));
    expect(entries.find((e) => e.action === 'enrollmentToken.use')?.actor).toBe('agent:kazan');
    const text = JSON.stringify(entries);
    expect(text).not.toMatch(/fpe_|SUA[A-Z2-7]{20}|BEGIN NATS/);
  });

  it('refuses a used token, an expired token and an unknown one (401), and a bad key without using the token (400)', async () => {
    const used = (await issue('piter')).body['token'] as string;
    expect((await enroll({ token: used })).status).toBe(200);
    const again = await enroll({ token: used });
    expect(again.status).toBe(401);
    expect(again.body.error?.message).toMatch(/already used/);

    const old = (await issue('piter')).body['token'] as string;
    await t.app.get(DataSource).query(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`);
    const expired = await enroll({ token: old });
    expect(expired.status).toBe(401);
    expect(expired.body.error?.message).toMatch(/expired/);

    expect((await enroll({ token: 'fpe_not-a-token-at-all-0123456789' })).status).toBe(401);

    const fresh = (await issue('piter')).body['token'] as string;
    const bad = await enroll({ token: fresh, wireguardPublicKey: 'not-a-key' });
    expect(bad.status).toBe(400);
    expect((await enroll({ token: fresh })).status).toBe(200);
  });

  it('lets only head office issue tokens: 403 for the own site, 404 for a site out of sight', async () => {
    const created = await t.request('POST', '/api/v1/users', { username: 'moscow-admin', password: PASSWORD, grants: [{ role: 'site-admin', siteId: 'moscow' }] }, admin);
    expect(created.status).toBe(201);
    const siteAdmin = await t.login('moscow-admin', PASSWORD);
    expect((await issue('moscow', siteAdmin)).status).toBe(403);
    expect((await issue('piter', siteAdmin)).status).toBe(404);
    expect((await issue('nowhere')).status).toBe(404);
  });

  it('assigns each enrolling site without a tunnel address its own free address of FEDPBX_VPN_POOL, in the key\'s write', async () => {
    const keys = { minsk: 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=', riga: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=' };
    for (const [id, key] of Object.entries(keys)) {
      expect((await t.request('POST', '/api/v1/sites', { id, name: id }, admin)).status).toBe(201);
      const token = (await issue(id)).body['token'] as string;
      expect((await enroll({ token, wireguardPublicKey: key })).status).toBe(200);
    }
    const network = async (id: string) => ((await t.request('GET', `/api/v1/sites/${id}`, undefined, admin)).body['data'] as { network: Record<string, unknown> }).network;
    // The founding scenario holds 10.77.0.1-3; an enrolled site with an address (kazan) keeps it.
    expect(await network('minsk')).toMatchObject({ vpnAddress: '10.77.0.4', wireguardPublicKey: keys.minsk });
    expect(await network('riga')).toMatchObject({ vpnAddress: '10.77.0.5', wireguardPublicKey: keys.riga });
    expect(await network('kazan')).toMatchObject({ vpnAddress: '10.77.0.3' });
    const revisions = await t.request('GET', '/api/v1/sites/riga/revisions?limit=1', undefined, admin);
    expect((revisions.body['items'] as { actor: string; reason: string }[])[0]).toMatchObject({ actor: 'agent:riga', reason: expect.stringContaining('tunnel address') });
    // Every site's snapshot sees the new peers' public WireGuard data.
    const nc = clients[0]!;
    const kazan = await until('kazan sees riga', async () => {
      const [s, shared] = [await readSnapshot(await openConfigBucket(nc, 'kazan')), await readSharedText(nc)];
      if (s === null || shared === null) return undefined;
      let riga;
      try {
        riga = verifyPublishedPair(s.text, shared.text, 'kazan', [controllerVerifyingKey(t)]).config.federation.sites.find((x) => x.id === 'riga');
      } catch {
        return undefined; // read between the shared part and the site part naming it: the next read has both
      }
      return riga?.network?.wireguardPublicKey === undefined ? undefined : riga.network;
    });
    expect(kazan).toEqual({ sipPort: DEFAULT_SIP_PORT, vpnAddress: '10.77.0.5', wireguardPublicKey: keys.riga });
  });

  it('rate-limits failed enrollments per client address like logins', async () => {
    // The last test ended with a successful enrollment, which clears this address's failures; the limit is six.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await enroll({ token: `fpe_guess-${i}-0123456789abcdef` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const valid = (await issue('moscow')).body['token'] as string;
    const limited = await enroll({ token: valid });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });
});

describe('enrollment without NATS credentials configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('answers 503 naming the missing setting, and uses no token', async () => {
    const admin = await t.login(ADMIN.username, ADMIN.password);
    expect((await t.request('POST', '/api/v1/sites', { id: 'solo', name: 'Solo' }, admin)).status).toBe(201);
    const token = (await t.request('POST', '/api/v1/sites/solo/enrollment-tokens', undefined, admin)).body['token'] as string;
    const r = await t.request('POST', '/api/v1/enroll', { token });
    expect(r.status).toBe(503);
    expect(r.body.error?.message).toContain('FEDPBX_NATS_ISSUER_FILE');
    const rows: { used_at: Date | null }[] = await t.app.get(DataSource).query(`SELECT used_at FROM enrollment_tokens`);
    expect(rows).toEqual([{ used_at: null }]);
  });
});
