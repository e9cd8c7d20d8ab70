import { describe, expect, it } from 'vitest';
import type { Federation, Site } from '@fedpbx/contracts';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { wireguardMeshFor } from './wireguard-mesh.js';
import { renderWireguard } from './wireguard-renderer.js';

const KEY = {
  moscow: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=',
  piter: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=',
  kazan: 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=',
};

/** The founding scenario with WireGuard: moscow and piter have public endpoints, kazan sits behind NAT. */
function federation(edit: (site: Site) => Site['network'] = (s) => s.network): Federation {
  const fed = foundingScenario();
  const wg: Record<string, Partial<Site['network']>> = {
    moscow: { wireguardEndpoint: 'vpn.moscow.example:51820', wireguardPublicKey: KEY.moscow },
    piter: { wireguardEndpoint: '203.0.113.2:51821', wireguardPublicKey: KEY.piter },
    kazan: { wireguardPublicKey: KEY.kazan },
  };
  return { ...fed, sites: fed.sites.map((s) => ({ ...s, network: edit({ ...s, network: { ...s.network, ...wg[s.id] } }) })) };
}

describe('wireguardMeshFor', () => {
  it('founding scenario, moscow: its own address and port, one peer per other site; keepalive toward kazan (no endpoint)', () => {
    expect(wireguardMeshFor(buildSiteConfig(federation(), 'moscow'))).toEqual({
      siteId: 'moscow',
      address: '10.77.0.1/32',
      listenPort: 51820,
      peers: [
        { siteId: 'kazan', publicKey: KEY.kazan, allowedIps: ['10.77.0.3/32'], persistentKeepalive: 25 },
        { siteId: 'piter', publicKey: KEY.piter, allowedIps: ['10.77.0.2/32'], endpoint: '203.0.113.2:51821' },
      ],
    });
  });

  it('founding scenario, kazan (behind NAT): no listen port, keepalive toward every peer', () => {
    expect(wireguardMeshFor(buildSiteConfig(federation(), 'kazan'))).toEqual({
      siteId: 'kazan',
      address: '10.77.0.3/32',
      peers: [
        { siteId: 'moscow', publicKey: KEY.moscow, allowedIps: ['10.77.0.1/32'], endpoint: 'vpn.moscow.example:51820', persistentKeepalive: 25 },
        { siteId: 'piter', publicKey: KEY.piter, allowedIps: ['10.77.0.2/32'], endpoint: '203.0.113.2:51821', persistentKeepalive: 25 },
      ],
    });
  });

  it('leaves out sites without a public key or a tunnel address, and has nothing to offer a site without an address', () => {
    const fed = federation((s) => {
      if (s.id === 'kazan') return { ...s.network, wireguardPublicKey: undefined };
      if (s.id === 'piter') return { ...s.network, vpnAddress: undefined };
      return s.network;
    });
    expect(wireguardMeshFor(buildSiteConfig(fed, 'moscow'))?.peers).toEqual([]);
    expect(wireguardMeshFor(buildSiteConfig(fed, 'piter'))).toBeUndefined();
  });

  it('routes an IPv6 tunnel address as a /128', () => {
    const fed = federation((s) => ({ ...s.network, vpnAddress: s.id === 'piter' ? 'fd77::2' : s.id === 'moscow' ? 'fd77::1' : s.network.vpnAddress }));
    const mesh = wireguardMeshFor(buildSiteConfig(fed, 'moscow'));
    expect(mesh?.address).toBe('fd77::1/128');
    expect(mesh?.peers.find((p) => p.siteId === 'piter')?.allowedIps).toEqual(['fd77::2/128']);
  });

  it('renders into a wg-quick config with every peer and no private key', () => {
    const mesh = wireguardMeshFor(buildSiteConfig(federation(), 'piter'));
    if (mesh === undefined) throw new Error('piter has an address');
    const text = renderWireguard({ ...mesh, privateKeyPath: '/var/lib/fedpbx-agent/wireguard/fedpbx0.key' });
    expect(text).toContain('Address = 10.77.0.2/32\nListenPort = 51821\n');
    expect(text.match(/^\[Peer\]$/gm)).toHaveLength(2);
    expect(text).toContain(`PublicKey = ${KEY.moscow}\nAllowedIPs = 10.77.0.1/32\nEndpoint = vpn.moscow.example:51820\n`);
    expect(text).not.toMatch(/PrivateKey/);
  });
});
