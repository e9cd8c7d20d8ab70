import { decode, type User } from '@nats-io/jwt';
import { describe, expect, it } from 'vitest';
import { decode as decodeJwt, type Account } from '@nats-io/jwt';
import { agentPermissions, createNatsTrust, credsFile, credsInfo, encodeAccountWithRevocations, issuerOf, mintAgentCreds, mintAgentJwt, newUserKey, presencePeersOfCreds, renderHubConfig, renderLeafConfig, signRenewal, verifyRenewal } from './nats-auth.js';

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

describe('agent permissions', () => {
  const moscow = agentPermissions('moscow');
  const allowed = (kind: 'pub' | 'sub', subject: string) => (moscow[kind]?.allow ?? []).some((p) => matches(p, subject));

  it('cover the own site config, events, inbox and requests', () => {
    expect(allowed('pub', '$JS.API.CONSUMER.CREATE.KV_fedpbx-config-moscow.oc_1.$KV.fedpbx-config-moscow.snapshot')).toBe(true);
    expect(allowed('pub', '$JS.fedpbx.API.DIRECT.GET.KV_fedpbx-config-moscow.$KV.fedpbx-config-moscow.snapshot')).toBe(true);
    expect(allowed('pub', 'fedpbx.events.moscow.cdr')).toBe(true);
    expect(allowed('pub', 'fedpbx.cdrs.moscow')).toBe(true);
    expect(allowed('sub', '_INBOX.fedpbx.moscow.abc.1')).toBe(true);
    expect(allowed('sub', 'fedpbx.rpc.moscow.trace')).toBe(true);
    expect(allowed('pub', 'fedpbx.creds.moscow.renew')).toBe(true);
    expect(allowed('pub', 'fedpbx.live.moscow.calls')).toBe(true);
  });

  it('reach nothing of another site, and no config writes or JetStream administration', () => {
    for (const subject of [
      '$JS.API.CONSUMER.CREATE.KV_fedpbx-config-piter',
      '$JS.API.STREAM.MSG.GET.KV_fedpbx-config-piter',
      '$KV.fedpbx-config-moscow.snapshot',
      '$JS.API.STREAM.CREATE.EVIL',
      '$JS.API.STREAM.DELETE.KV_fedpbx-config-moscow',
      '$JS.API.STREAM.PURGE.FEDPBX_EVENTS',
      'fedpbx.events.piter.cdr',
      'fedpbx.cdrs.piter',
      'fedpbx.cdrs.moscow.x',
      '$JS.API.STREAM.PURGE.FEDPBX_CDRS',
      'fedpbx.rpc.piter.trace',
      'fedpbx.creds.piter.renew',
      'fedpbx.live.piter.calls',
      'fedpbx.controller.live',
      '$SYS.REQ.ACCOUNT.ABC.CLAIMS.UPDATE',
    ])
      expect(allowed('pub', subject), subject).toBe(false);
    for (const subject of ['_INBOX.fedpbx.piter.x', '_INBOX.x', 'fedpbx.events.moscow.cdr', 'fedpbx.cdrs.moscow', 'fedpbx.rpc.piter.health', 'fedpbx.live.piter.calls', 'fedpbx.controller.live']) expect(allowed('sub', subject), subject).toBe(false);
  });

  it('presence: its own changes out and its own state answered; only the peers it shows in', () => {
    const withPeers = agentPermissions('moscow', ['piter', 'moscow']);
    const may = (kind: 'pub' | 'sub', subject: string) => (withPeers[kind]?.allow ?? []).some((p) => matches(p, subject));
    expect(may('pub', 'fedpbx.presence.moscow.changes')).toBe(true);
    expect(may('sub', 'fedpbx.presence.moscow.state')).toBe(true);
    expect(may('sub', 'fedpbx.presence.piter.changes')).toBe(true);
    expect(may('pub', 'fedpbx.presence.piter.state')).toBe(true);
    for (const subject of ['fedpbx.presence.kazan.changes', 'fedpbx.presence.moscow.changes', 'fedpbx.presence.piter.state']) expect(may('sub', subject), subject).toBe(false);
    for (const subject of ['fedpbx.presence.piter.changes', 'fedpbx.presence.kazan.state', 'fedpbx.presence.moscow.state']) expect(may('pub', subject), subject).toBe(false);
    const all = agentPermissions('hq', 'all');
    expect((all.sub?.allow ?? []).some((p) => matches(p, 'fedpbx.presence.kazan.changes'))).toBe(true);
    expect((all.pub?.allow ?? []).some((p) => matches(p, 'fedpbx.presence.kazan.changes'))).toBe(false);
    expect(JSON.stringify(all).length).toBeLessThan(JSON.stringify(agentPermissions('hq')).length + 200);
  });

  it('a site id that prefixes another does not widen the grant', () => {
    const mos = agentPermissions('mos');
    expect((mos.pub?.allow ?? []).some((p) => matches(p, 'fedpbx.events.moscow.cdr'))).toBe(false);
    expect((mos.pub?.allow ?? []).some((p) => matches(p, '$JS.API.STREAM.MSG.GET.KV_fedpbx-config-moscow'))).toBe(false);
  });
});

describe('minted credentials', () => {
  it('carry a user JWT issued by the account signing key for the FEDPBX account, with the site permissions', async () => {
    const trust = await createNatsTrust();
    const creds = await mintAgentCreds(issuerOf(trust), 'moscow', { expiresAt: new Date('2030-01-01T00:00:00Z') });
    const jwt = /-----BEGIN NATS USER JWT-----\n(.+)\n/.exec(creds)?.[1] ?? '';
    const claims = decode<User>(jwt);
    expect(claims.iss).toBe(trust.accountSigner.publicKey);
    expect(claims.nats.issuer_account).toBe(trust.account.publicKey);
    expect(claims.nats.pub?.allow).toEqual(agentPermissions('moscow').pub?.allow);
    expect(claims.exp).toBe(Date.parse('2030-01-01T00:00:00Z') / 1000);
    expect(creds).toMatch(/-----BEGIN USER NKEY SEED-----\nSU[A-Z2-7]+\n/);
  });

  it('say whose presence they let the agent read: the listed sites, every site, or none', async () => {
    const issuer = issuerOf(await createNatsTrust());
    expect(presencePeersOfCreds(await mintAgentCreds(issuer, 'moscow', { presencePeers: ['piter', 'kazan', 'moscow'] }))).toEqual(['kazan', 'piter']);
    expect(presencePeersOfCreds(await mintAgentCreds(issuer, 'moscow', { presencePeers: 'all' }))).toBe('all');
    expect(presencePeersOfCreds(await mintAgentCreds(issuer, 'moscow'))).toEqual([]);
  });
});

describe('renewal and revocation', () => {
  it('a renewed JWT names the key the agent made, with the site permissions and the expiry asked for', async () => {
    const trust = await createNatsTrust();
    const key = newUserKey();
    const expiresAt = new Date('2031-05-01T00:00:00Z');
    const { jwt } = await mintAgentJwt(issuerOf(trust), 'piter', key.publicKey, expiresAt);
    const info = credsInfo(credsFile(jwt, key.seed));
    expect(info.userKey).toBe(key.publicKey);
    expect(info.expiresAt).toEqual(expiresAt);
    expect(decode<User>(jwt).nats.pub?.allow).toEqual(agentPermissions('piter').pub?.allow);
  });

  it('a renewal signature verifies only for the key, site, new key and time it was made for', () => {
    const current = newUserKey();
    const next = newUserKey().publicKey;
    const at = '2026-12-06T20:00:00.000Z';
    const sig = signRenewal(current.seed, 'moscow', next, at);
    expect(verifyRenewal(current.publicKey, sig, 'moscow', next, at)).toBe(true);
    expect(verifyRenewal(current.publicKey, sig, 'piter', next, at)).toBe(false);
    expect(verifyRenewal(current.publicKey, sig, 'moscow', newUserKey().publicKey, at)).toBe(false);
    expect(verifyRenewal(current.publicKey, sig, 'moscow', next, '2026-12-06T20:00:01.000Z')).toBe(false);
    expect(verifyRenewal(newUserKey().publicKey, sig, 'moscow', next, at)).toBe(false);
    expect(verifyRenewal(current.publicKey, 'x'.repeat(86), 'moscow', next, at)).toBe(false);
  });

  it('the account update keeps the account claims, carries the revocations, and is signed by the operator signing key', async () => {
    const trust = await createNatsTrust();
    const authority = issuerOf(trust).revocation;
    if (authority === undefined) throw new Error('no revocation authority');
    const jwt = await encodeAccountWithRevocations(authority, { UABC: 1_800_000_000 });
    const claims = decodeJwt<Account>(jwt);
    const base = decodeJwt<Account>(trust.account.jwt);
    expect(claims.sub).toBe(trust.account.publicKey);
    expect(claims.iss).toBe(trust.operatorSigner.publicKey);
    expect(claims.nats.revocations).toEqual({ UABC: 1_800_000_000 });
    expect(claims.nats.signing_keys).toEqual(base.nats.signing_keys);
    expect(claims.nats.limits).toEqual(base.nats.limits);
    expect(decodeJwt<Account>(await encodeAccountWithRevocations(authority, {})).nats.revocations).toBeUndefined();
  });

  it('each account update is issued in a later second than the preloaded account JWT and the previous update (nats-server keeps an equal-iat JWT only by chance)', async () => {
    const trust = await createNatsTrust();
    const authority = issuerOf(trust).revocation;
    if (authority === undefined) throw new Error('no revocation authority');
    const base = decodeJwt<Account>(trust.account.jwt).iat;
    const first = decodeJwt<Account>(await encodeAccountWithRevocations(authority, { UABC: 1 })).iat;
    const second = decodeJwt<Account>(await encodeAccountWithRevocations(authority, { UABC: 1, UDEF: 2 })).iat;
    expect(first).toBeGreaterThan(base);
    expect(second).toBeGreaterThan(first);
  });

  it('the controller file holds signing keys only, never the operator or account identity seeds', async () => {
    const trust = await createNatsTrust();
    const text = JSON.stringify(issuerOf(trust));
    for (const seed of [trust.operator.seed, trust.account.seed, trust.system.seed]) expect(text).not.toContain(seed);
  });
});

describe('server configs', () => {
  it('the hub preloads both accounts into the full resolver and never lists users', async () => {
    const trust = await createNatsTrust();
    const conf = renderHubConfig(trust, { port: 4222, storeDir: '/var/lib/nats', resolverDir: '/var/lib/nats/jwt', leafPort: 7422 });
    expect(conf).toContain('resolver: {\n  type: full\n  dir: "/var/lib/nats/jwt"');
    expect(conf).toContain(`${trust.account.publicKey}: ${trust.account.jwt}`);
    expect(conf).toContain(`system_account: ${trust.system.publicKey}`);
    expect(conf).not.toContain(trust.accountSigner.seed);
    expect(conf).not.toMatch(/users\s*[:=]/);
  });

  it('a leaf connects with the site credentials file and has no JetStream of its own', () => {
    const conf = renderLeafConfig({ siteId: 'moscow', hubLeafUrls: ['nats-leaf://hub:7422'], credsFile: '/etc/fedpbx/nats.creds', port: 4222 });
    expect(conf).toContain('credentials: "/etc/fedpbx/nats.creds"');
    expect(conf).not.toMatch(/^jetstream/m);
  });
});
