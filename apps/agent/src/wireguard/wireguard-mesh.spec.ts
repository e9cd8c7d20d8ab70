import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Federation, Site, SiteSnapshot } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario } from '@fedpbx/dialplan';
import { generateSigningKey, signSnapshot } from '@fedpbx/signing';
import { DryRunWgRunner, WireguardError, type WgResult, type WgTool } from './wg-runner.js';
import { WireguardManager } from './wireguard-manager.js';
import { WireguardMesh } from './wireguard-mesh.js';

const KEY = { piter: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', kazan: 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=' };
const signing = generateSigningKey('controller-1');

function federation(network: (site: Site) => Partial<Site['network']> = () => ({})): Federation {
  const fed = foundingScenario();
  const wg: Record<string, Partial<Site['network']>> = {
    piter: { wireguardEndpoint: '203.0.113.2:51820', wireguardPublicKey: KEY.piter },
    kazan: { wireguardPublicKey: KEY.kazan },
    moscow: { wireguardEndpoint: '198.51.100.1:51820' },
  };
  return { ...fed, sites: fed.sites.map((s) => ({ ...s, network: { ...s.network, ...wg[s.id], ...network(s) } })) };
}

const snapshot = (fed: Federation, revision: number): SiteSnapshot => signSnapshot(buildSiteConfig(fed, 'moscow'), revision, signing, new Date('2026-11-26T09:00:00Z'));

function setup(runner = new DryRunWgRunner()) {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-mesh-'));
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(c: Buffer, _e, cb) {
        lines.push(JSON.parse(c.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const manager = new WireguardManager({ runner, log, configDir: dir, privateKeyPath: join(dir, 'site.key') });
  return { dir, runner, manager, log, lines, mesh: new WireguardMesh({ manager, log }) };
}

const changes = (runner: DryRunWgRunner) => runner.commands.filter((c) => c.tool === 'wg-quick' || c.args[0] === 'syncconf');

describe('WireguardMesh', () => {
  it('brings the mesh of the snapshot up, then syncs peers when a later snapshot changes them', async () => {
    const { runner, manager, mesh } = setup();
    expect(await mesh.apply(snapshot(federation(), 1))).toEqual({ changed: true, action: 'up' });
    const conf = readFileSync(manager.configPath, 'utf8');
    expect(conf).toContain('Address = 10.77.0.1/32\nListenPort = 51820\n');
    expect(conf).toContain(`PublicKey = ${KEY.piter}\nAllowedIPs = 10.77.0.2/32\nEndpoint = 203.0.113.2:51820\n`);
    expect(conf).toContain(`PublicKey = ${KEY.kazan}\nAllowedIPs = 10.77.0.3/32\nPersistentKeepalive = 25\n`);
    expect(conf).not.toContain(readFileSync(manager.privateKeyPath, 'utf8').trim());
    expect(mesh.peers).toEqual([
      { siteId: 'kazan', publicKey: KEY.kazan },
      { siteId: 'piter', publicKey: KEY.piter },
    ]);

    expect(await mesh.apply(snapshot(federation(), 2))).toEqual({ changed: false, action: 'none' });
    const moved = federation((s) => (s.id === 'piter' ? { wireguardEndpoint: '203.0.113.9:51820' } : {}));
    expect(await mesh.apply(snapshot(moved, 3))).toEqual({ changed: true, action: 'syncconf' });
    expect(changes(runner)).toEqual([
      { tool: 'wg-quick', args: ['up', manager.configPath] },
      { tool: 'wg', args: ['syncconf', 'fedpbx0', join(manager.configDir, 'fedpbx0.setconf')] },
    ]);
  });

  it('waits for a tunnel address, saying so once', async () => {
    const { runner, mesh, lines } = setup();
    const noAddress = federation((s) => (s.id === 'moscow' ? { vpnAddress: undefined } : {}));
    expect(await mesh.apply(snapshot(noAddress, 1))).toBeUndefined();
    expect(await mesh.apply(snapshot(noAddress, 2))).toBeUndefined();
    expect(runner.commands).toEqual([]);
    expect(lines.filter((l) => String(l['msg']).includes('no tunnel address'))).toHaveLength(1);
  });

  it("warns once when the controller does not have this site's public key, naming the key to give it", async () => {
    const { mesh, lines } = setup();
    await mesh.apply(snapshot(federation(), 1));
    await mesh.apply(snapshot(federation(), 2));
    const warnings = lines.filter((l) => String(l['msg']).includes('does not have this site'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['publicKey']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('never rejects: a failing wg-quick is logged once per kind, and success after it is logged', async () => {
    class FailingUp extends DryRunWgRunner {
      fail = true;
      override run(tool: WgTool, args: readonly string[], input?: string): Promise<WgResult> {
        if (tool === 'wg-quick' && this.fail) return Promise.reject(new WireguardError('COMMAND_FAILED', 'wg-quick up failed: RTNETLINK answers: Operation not supported'));
        return super.run(tool, args, input);
      }
    }
    const runner = new FailingUp();
    const { mesh, lines } = setup(runner);
    expect(await mesh.apply(snapshot(federation(), 1))).toBeUndefined();
    expect(await mesh.apply(snapshot(federation(), 2))).toBeUndefined();
    expect(lines.filter((l) => l['msg'] === 'WireGuard mesh not applied; calls are not affected (links without a tunnel fail over)')).toHaveLength(1);
    runner.fail = false;
    expect(await mesh.apply(snapshot(federation(), 3))).toEqual({ changed: false, action: 'up' });
    expect(lines.filter((l) => l['msg'] === 'WireGuard mesh applied')).toHaveLength(1);
  });

  it('feeds handshake ages of the peers of the snapshot as link signals and link events', async () => {
    const runner = new DryRunWgRunner();
    const { manager, log } = setup(runner);
    const signals: [string, string | undefined][] = [];
    const events: unknown[] = [];
    const mesh = new WireguardMesh({ manager, log, monitor: { onSignal: (site, s) => signals.push([site, s]), onLinkStatus: (e) => events.push(e), intervalMs: 10 } });
    await mesh.apply(snapshot(federation(), 1));
    runner.handshakes = new Map([[KEY.piter, Math.floor(Date.now() / 1000) - 5]]);
    mesh.start();
    await vi.waitFor(() => expect(signals.length).toBeGreaterThanOrEqual(2));
    mesh.stop();
    expect(signals.slice(0, 2)).toEqual([
      ['kazan', 'down'],
      ['piter', 'up'],
    ]);
    expect(events).toEqual([
      { type: 'link.status', peerSiteId: 'kazan', state: 'down', source: 'wireguard' },
      { type: 'link.status', peerSiteId: 'piter', state: 'up', source: 'wireguard', wireguardHandshakeAgeSec: expect.any(Number) },
    ]);
  });
});
