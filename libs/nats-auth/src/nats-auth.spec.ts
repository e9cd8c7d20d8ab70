import { decode, type User } from '@nats-io/jwt';
import { describe, expect, it } from 'vitest';
import { agentPermissions, createNatsTrust, issuerOf, mintAgentCreds, renderHubConfig, renderLeafConfig } from './nats-auth.js';

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
    expect(allowed('sub', '_INBOX.fedpbx.moscow.abc.1')).toBe(true);
    expect(allowed('sub', 'fedpbx.rpc.moscow.trace')).toBe(true);
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
      'fedpbx.rpc.piter.trace',
    ])
      expect(allowed('pub', subject), subject).toBe(false);
    for (const subject of ['_INBOX.fedpbx.piter.x', '_INBOX.x', 'fedpbx.events.moscow.cdr', 'fedpbx.rpc.piter.health']) expect(allowed('sub', subject), subject).toBe(false);
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
});

describe('server configs', () => {
  it('the hub preloads both accounts and never lists users', async () => {
    const trust = await createNatsTrust();
    const conf = renderHubConfig(trust, { port: 4222, storeDir: '/var/lib/nats', leafPort: 7422 });
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
