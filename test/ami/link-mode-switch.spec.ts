// Issue #15 §1/§3 in-process: the agent's link health (AsteriskStatus) against the PJSIP model loading moscow's
// rendered pjsip_fedpbx.conf, while the moscow-kazan link switches between registration and ip mode (observed on
// 22.10.1: calls refused for 2-25 s with FEDPBX_DENY=all-routes-down); and the reading of the admin's transports.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Federation } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, renderPjsip, resolveRoute } from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmiClient } from '../../apps/agent/src/ami/ami-client.js';
import { AsteriskStatus, type LinkStatus } from '../../apps/agent/src/ami/asterisk-status.js';
import { federationBind, readAdminTransports, transportProblems } from '../../apps/agent/src/asterisk-config/admin-transports.js';
import { RoutingState } from '../../apps/agent/src/state/routing-state.js';
import { AmiPeer, DEFAULT_AMI_USER } from '../support/asterisk/ami-peer.js';
import { PjsipSim } from '../support/asterisk/pjsip-sim.js';

const silent = pino({ level: 'silent' });
const key = generateSigningKey('controller-1');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const withKazanMode = (mode: 'ip' | 'registration'): Federation => {
  const fed = foundingScenario();
  return {
    ...fed,
    sites: fed.sites.map((s) => ({ ...s, network: { ...s.network, sipPort: 5070 } })),
    links: fed.links.map((l) => (l.id !== 'l-moscow-kazan' ? l : mode === 'ip' ? { id: l.id, a: l.a, b: l.b, codecs: l.codecs, mode: 'ip' as const, ...(l.secret !== undefined ? { secret: l.secret } : {}) } : { ...l, registrant: 'kazan' })),
  };
};

describe('a link switched between ip and registration mode', () => {
  it('is never down while Asterisk re-makes its contact: unknown (tried), then up; calls to kazan never denied', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-mode-switch-'));
    const write = (fed: Federation) => writeFileSync(join(dir, 'pjsip_fedpbx.conf'), renderPjsip(buildSiteConfig(fed, 'moscow')));
    writeFileSync(join(dir, 'pjsip.conf'), '[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n#include pjsip_fedpbx.conf\n');
    write(withKazanMode('ip'));
    const ami = await AmiPeer.start();
    const sim = new PjsipSim({ ami, configDir: dir, random: () => 0.1 }).start();
    const state = new RoutingState();
    let revision = 1;
    const apply = (fed: Federation) => state.apply(signSnapshot(buildSiteConfig(fed, 'moscow'), revision++, key, new Date('2026-12-06T21:00:00Z')));
    apply(withKazanMode('ip'));
    const client = new AmiClient({ host: '127.0.0.1', port: ami.port, username: DEFAULT_AMI_USER.name, secret: DEFAULT_AMI_USER.secret, log: silent, keepaliveMs: 0 });
    const links: LinkStatus[] = [];
    const status = new AsteriskStatus({ ami: client, state, log: silent, onLinkStatus: (e) => links.push(e) });
    status.start();
    client.start();
    cleanups.push(async () => {
      sim.stop();
      status.stop();
      await client.stop();
      await ami.close();
    });
    await until(() => links.some((l) => l.peerSiteId === 'kazan' && l.state === 'up'), 15_000);

    // Every 20 ms during the switches: would a call to kazan's 6101 (prefix 6) be denied?
    const denied: string[] = [];
    const sampler = setInterval(() => {
      const plan = resolveRoute(state.site, { entry: 'internal', caller: '101', dialled: '6101', health: state.health });
      if (plan.outcome === 'denied') denied.push(plan.deny?.code ?? '?');
    }, 20);
    cleanups.push(() => clearInterval(sampler));

    // ip -> registration (kazan registers to moscow): the static contact goes, the registered one comes later.
    write(withKazanMode('registration'));
    apply(withKazanMode('registration'));
    await client.action('Reload', { Module: 'res_pjsip.so' });
    await status.resync();
    await until(() => links.at(-1)?.peerSiteId === 'kazan' && links.at(-1)?.state === 'unknown');
    expect(state.health.links.kazan).not.toBe('down');
    sim.register('site-kazan', 'sip:site-moscow@10.77.0.3:5070');
    await until(() => links.at(-1)?.peerSiteId === 'kazan' && links.at(-1)?.state === 'up', 15_000);

    // ... and back to ip.
    write(withKazanMode('ip'));
    apply(withKazanMode('ip'));
    await client.action('Reload', { Module: 'res_pjsip.so' });
    await status.resync();
    await until(() => links.at(-1)?.state === 'up', 15_000);

    expect(links.filter((l) => l.peerSiteId === 'kazan').map((l) => l.state)).not.toContain('down');
    expect(denied).toEqual([]);
  });
});


describe("the admin's transports (pjsip.conf and its includes)", () => {
  it('finds the overlapping bind, the shared port, and leaves [::] and other ports alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-admin-transports-'));
    writeFileSync(join(dir, 'pjsip.conf'), '; admin\n[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0 ; every address\n\n#include "pjsip.d/more.conf"\n#tryinclude missing.conf\n#include pjsip_fedpbx.conf\n');
    writeFileSync(join(dir, 'pjsip_fedpbx.conf'), '[fedpbx-transport]\ntype=transport\nbind=10.77.0.1:5060\n');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'pjsip.d'));
    writeFileSync(join(dir, 'pjsip.d', 'more.conf'), '[lan]\ntype=transport\nprotocol=udp\nbind=192.168.1.10:5070\n[v6]\ntype=transport\nbind=[::]:5070\n[tls]\ntype=transport\nprotocol=tls\nbind=10.77.0.1:5071\n');
    const admin = await readAdminTransports(dir);
    expect(admin.map((t) => `${t.name} ${t.file}:${t.line} ${t.bindText}`)).toEqual([
      'transport-udp pjsip.conf:2 0.0.0.0',
      'lan pjsip.d/more.conf:1 192.168.1.10:5070',
      'v6 pjsip.d/more.conf:5 [::]:5070',
      'tls pjsip.d/more.conf:8 10.77.0.1:5071',
    ]);
    expect(transportProblems(federationBind({ vpnAddress: '10.77.0.1', sipPort: 5060 })!, admin).conflict?.name).toBe('transport-udp');
    expect(transportProblems(federationBind({ vpnAddress: '10.77.0.1', sipPort: 5070 })!, admin)).toEqual({ sharedPort: admin[1] });
    expect(transportProblems(federationBind({ vpnAddress: '10.77.0.1', sipPort: 5071 })!, admin)).toEqual({});
    expect(transportProblems(federationBind({ vpnAddress: 'fd00::1', sipPort: 5070 })!, admin).conflict?.name).toBe('v6');
    expect(transportProblems(federationBind({ sipPort: 5070 })!, admin).conflict?.name).toBe('lan');
  });
});
