import { canonicalJson, type Federation, type SiteConfig } from '@fedpbx/contracts';

/** The parts of a site's config that are arrays of federation objects shared by many sites. */
const SHARED_OBJECTS = new Set<keyof SiteConfig>(['outboundRoutes', 'classesOfService']);

/**
 * `canonicalJson(config)` of `config = buildSiteConfig(fed, siteId)`, assembled from parts serialized once for
 * all sites: a change that touches every site (a number range, a site) has every site's snapshot rebuilt, and
 * most of each snapshot - the site directory and numbering plan, the routes - is the same objects for all of
 * them. Canonical JSON of an object is `{` + `"key":value` for its defined keys in sorted order + `}`, of an
 * array `[` + its elements, each serialized on its own, + `]`; so:
 * - the `federation` part is serialized once per (sites, number ranges, hub) of the federation, the only
 *   things buildSiteConfig builds it from;
 * - outbound routes and classes of service are serialized once per object (a federation is never mutated once
 *   built: a change makes new objects, so an object's JSON never goes stale);
 * - the rest (the site's own extensions, trunks, links...; remote-trunk entries made afresh per config) is
 *   serialized as it comes.
 * The publisher signs and sends this text; the writer hashes it (site-config-hash.ts) to tell which sites changed.
 * site-config-json.spec.ts holds it to canonicalJson.
 */
export class SiteConfigJson {
  /** By the sites array the part was built from (with its ranges and hub): a writer sees two federations at once. */
  private readonly federationParts = new WeakMap<Federation['sites'], { numberRanges: Federation['numberRanges']; hubSiteId: string | undefined; json: string }>();
  private readonly objects = new WeakMap<object, string>();

  /** `config` must be `buildSiteConfig(fed, <its site>)`. */
  of(fed: Federation, config: SiteConfig): string {
    const parts: string[] = [];
    for (const key of (Object.keys(config) as (keyof SiteConfig)[]).sort()) {
      const value = config[key];
      if (value === undefined) continue;
      const json = key === 'federation' ? this.federation(fed, config.federation) : SHARED_OBJECTS.has(key) ? this.sharedArray(value as readonly object[]) : canonicalJson(value);
      parts.push(`${JSON.stringify(key)}:${json}`);
    }
    return `{${parts.join(',')}}`;
  }

  private federation(fed: Federation, part: SiteConfig['federation']): string {
    const cached = this.federationParts.get(fed.sites);
    if (cached !== undefined && cached.numberRanges === fed.numberRanges && cached.hubSiteId === fed.hubSiteId) return cached.json;
    const json = canonicalJson(part);
    this.federationParts.set(fed.sites, { numberRanges: fed.numberRanges, hubSiteId: fed.hubSiteId, json });
    return json;
  }

  private sharedArray(items: readonly object[]): string {
    const parts = items.map((item) => {
      let json = this.objects.get(item);
      if (json === undefined) this.objects.set(item, (json = canonicalJson(item)));
      return json;
    });
    return `[${parts.join(',')}]`;
  }
}
