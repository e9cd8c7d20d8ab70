import { describe, expect, it } from 'vitest';
import type { Federation } from '@fedpbx/contracts';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { buildSiteConfig } from './site-view.js';

function reversed(fed: Federation): Federation {
  return {
    ...fed,
    sites: [...fed.sites].reverse(),
    numberRanges: [...fed.numberRanges].reverse(),
    extensions: [...fed.extensions].reverse(),
    trunks: [...fed.trunks].reverse(),
    links: [...fed.links].reverse(),
    outboundRoutes: [...fed.outboundRoutes].reverse(),
    inboundRoutes: [...fed.inboundRoutes].reverse(),
    callFlows: [...fed.callFlows].reverse(),
    classesOfService: [...fed.classesOfService].reverse(),
  };
}

describe('a site view', () => {
  it('does not depend on the order the federation lists its objects in (so its content hash is stable across a reload)', () => {
    const fed = foundingScenario();
    for (const site of ['moscow', 'piter', 'kazan']) {
      expect(JSON.stringify(buildSiteConfig(reversed(fed), site))).toBe(JSON.stringify(buildSiteConfig(fed, site)));
    }
  });

  it('lists every collection in id order', () => {
    const view = buildSiteConfig(reversed(foundingScenario()), 'moscow');
    for (const list of [view.federation.sites, view.federation.numberRanges, view.extensions, view.trunks, view.links, view.outboundRoutes, view.classesOfService]) {
      const ids = list.map((x) => x.id);
      expect(ids).toEqual([...ids].sort());
    }
  });
});

describe("a site view's directory", () => {
  it("carries every site's public WireGuard endpoint and key, and sites without them lack the fields", () => {
    const fed = foundingScenario();
    const key = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
    const sites = fed.sites.map((s) => (s.id === 'piter' ? { ...s, network: { ...s.network, wireguardEndpoint: 'vpn.piter.example:51820', wireguardPublicKey: key } } : s));
    const view = buildSiteConfig({ ...fed, sites }, 'moscow');
    expect(view.federation.sites.find((s) => s.id === 'piter')?.network).toEqual({
      vpnAddress: '10.77.0.2',
      sipPort: 5060,
      wireguardEndpoint: 'vpn.piter.example:51820',
      wireguardPublicKey: key,
    });
    expect(view.federation.sites.find((s) => s.id === 'kazan')?.network).toEqual({ vpnAddress: '10.77.0.3', sipPort: 5060 });
  });
});
