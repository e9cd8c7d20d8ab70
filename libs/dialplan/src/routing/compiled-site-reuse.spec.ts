import type { SiteConfig } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { generateFederation } from '../scenario/generated-federation.js';
import { buildSiteConfig } from '../snapshot/site-view.js';
import { compileSite } from './compiled-site.js';
import { resolveRoute } from './route-resolver.js';

const fed = generateFederation({ sites: 12, extensionsPerSite: 5, flows: 2 });
const siteId = fed.sites[3]!.id;
const config = buildSiteConfig(fed, siteId);

/** Where a sample of numbers goes: the compiled site must route as a fresh compile does. */
function routes(config: SiteConfig, previous?: Parameters<typeof compileSite>[2]) {
  const site = compileSite(config, 2, previous);
  const caller = config.extensions[0]!.number;
  const dialled = [...fed.extensions.slice(0, 30).map((e) => e.number), '0015551234567', '84951234567', '112', '999'];
  return { site, plans: dialled.map((d) => resolveRoute(site, { entry: 'internal', caller, dialled: d })) };
}

describe('compiling a site over the one before', () => {
  const first = compileSite(config, 1);

  it('keeps what was built from parts that are the same objects', () => {
    const { site } = routes(config, { config, site: first });
    expect(site.outbound).toBe(first.outbound);
    expect(site.hopOff).toBe(first.hopOff);
    expect(site.plan).toBe(first.plan);
    expect(site.trunks).toBe(first.trunks);
    expect(site.extensions).toBe(first.extensions);
    expect(site.revision).toBe(2);
  });

  it('builds the extension table again from another list, even one equal in value, and routes as a fresh compile', () => {
    const copied = { ...config, extensions: config.extensions.map((e) => ({ ...e })) };
    expect(compileSite(copied, 2, { config, site: first }).extensions).not.toBe(first.extensions);
    const renamed = { ...config, extensions: config.extensions.map((e, i) => (i === 0 ? { ...e, displayName: 'Renamed' } : e)) };
    const reused = routes(renamed, { config, site: first });
    expect(reused.site.extensions).not.toBe(first.extensions);
    expect(reused.site.extensions.get(renamed.extensions[0]!.number)?.displayName).toBe('Renamed');
    expect(reused.plans).toEqual(routes(renamed).plans);
  });

  it('builds again what changed, and routes exactly as a fresh compile', () => {
    const plan = { ...config, federation: { ...config.federation, numberRanges: config.federation.numberRanges.slice(1) } };
    const reused = routes(plan, { config, site: first });
    expect(reused.site.plan).not.toBe(first.plan);
    expect(reused.site.directory).toBe(first.directory); // the same site directory
    expect(reused.site.outbound).toBe(first.outbound);
    expect(reused.plans).toEqual(routes(plan).plans);

    const fewerRoutes = { ...config, outboundRoutes: config.outboundRoutes.slice(1) };
    const rebuilt = routes(fewerRoutes, { config, site: first });
    expect(rebuilt.site.outbound).not.toBe(first.outbound);
    expect(rebuilt.site.plan).toBe(first.plan);
    expect(rebuilt.plans).toEqual(routes(fewerRoutes).plans);
  });

  it('reuses nothing from another site', () => {
    const other = buildSiteConfig(fed, fed.sites[4]!.id);
    const site = compileSite({ ...other, federation: config.federation }, 2, { config, site: first });
    expect(site.plan).not.toBe(first.plan);
    expect(site.siteId).toBe(fed.sites[4]!.id);
  });
});
