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
