import { canonicalJson, type Federation } from '@fedpbx/contracts';
import { buildSiteConfig, foundingScenario, generateFederation } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { applyChanges, type FederationChange } from '../federation/federation-change.js';
import { SiteConfigJson } from './site-config-json.js';

/** Every site's text, assembled from cached parts, is exactly canonicalJson of its config. */
function expectCanonical(json: SiteConfigJson, fed: Federation): void {
  for (const site of fed.sites) {
    const config = buildSiteConfig(fed, site.id);
    expect(json.of(config)).toBe(canonicalJson(config));
  }
}

describe('SiteConfigJson', () => {
  it('is canonicalJson(buildSiteConfig(...)) for every site of the founding scenario and of a generated federation', () => {
    expectCanonical(new SiteConfigJson(), foundingScenario());
    expectCanonical(new SiteConfigJson(), generateFederation({ sites: 25, extensionsPerSite: 6, flows: 4, prefixEvery: 5 }));
  });

  it('stays exact write after write, whichever collection a write changes (no stale cached part)', () => {
    const json = new SiteConfigJson();
    let fed = generateFederation({ sites: 12, extensionsPerSite: 4, flows: 3, prefixEvery: 4 });
    expectCanonical(json, fed);
    const [site, range, route] = [fed.sites[2]!, fed.numberRanges[5]!, fed.outboundRoutes[6]!];
    const writes: FederationChange[][] = [
      [{ collection: 'sites', op: 'upsert', value: { ...site, name: 'Renamed office' } }],
      [{ collection: 'numberRanges', op: 'upsert', value: { ...range, to: String(Number(range.from) + 150) } }],
      [{ collection: 'hub', op: 'set', hubSiteId: fed.sites[1]!.id }],
      [{ collection: 'hub', op: 'set', hubSiteId: undefined }],
      [{ collection: 'outboundRoutes', op: 'upsert', value: { ...route, name: 'Renamed route' } }],
      [{ collection: 'classesOfService', op: 'upsert', value: { ...fed.classesOfService[0]!, name: 'renamed' } }],
      [{ collection: 'extensions', op: 'delete', id: fed.extensions[0]!.id }],
    ];
    for (const changes of writes) {
      const before = fed;
      fed = applyChanges(fed, changes);
      expectCanonical(json, fed);
      // An older view (a lane still publishing it) is still served exactly after the newer one was seen.
      expectCanonical(json, before);
    }
  });
});
