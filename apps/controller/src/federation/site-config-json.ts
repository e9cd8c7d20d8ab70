import { canonicalJson, type SiteConfig } from '@fedpbx/contracts';

/**
 * `canonicalJson(config)` of a site config from buildSiteConfig / SiteViews, assembled from parts serialized once
 * for all sites and writes: a change that touches every site (a number range, a site) has every site's snapshot
 * rebuilt, and nearly all of each snapshot - the site directory and numbering plan, the routes, the site's own
 * objects - is objects already serialized for another site or an earlier write. Canonical JSON of an object is
 * `{` + `"key":value` for its defined keys in sorted order + `}`, of an array `[` + its elements, each serialized
 * on its own, + `]`; so:
 * - the `federation` part is serialized once per (site directory, number ranges, hub) - SiteViews hands every
 *   site of a federation the same directory and ranges arrays;
 * - every other part is an object or an array of objects, serialized once per object: a federation is never
 *   mutated once built (a change makes new objects), so an object's JSON never goes stale; the remote-trunk
 *   entries are SiteViews' own objects, shared by the views of one federation.
 * The publisher signs and sends this text; the writer hashes it (site-config-hash.ts) to tell which sites changed.
 * site-config-json.spec.ts holds it to canonicalJson.
 */
export class SiteConfigJson {
  /** By the directory array the part was built from (with its ranges and hub). */
  private readonly federationParts = new WeakMap<SiteConfig['federation']['sites'], { numberRanges: SiteConfig['federation']['numberRanges']; hubSiteId: string | undefined; json: string }>();
  private readonly objects = new WeakMap<object, string>();

  of(config: SiteConfig): string {
    return this.pieces(config).join('');
  }

  /**
   * The same text in pieces - `{"callFlows":`, the call flows' JSON, `,"classesOfService":`, ... `}` - each part's
   * JSON a piece of its own (the federation part the same string for every site), for SnapshotValueEncoder.
   */
  pieces(config: SiteConfig): string[] {
    const pieces: string[] = [];
    for (const key of (Object.keys(config) as (keyof SiteConfig)[]).sort()) {
      const value = config[key];
      if (value === undefined) continue;
      pieces.push(`${pieces.length === 0 ? '{' : ','}${JSON.stringify(key)}:`);
      pieces.push(key === 'federation' ? this.federation(config.federation) : Array.isArray(value) ? this.array(value as readonly object[]) : this.object(value));
    }
    pieces.push(pieces.length === 0 ? '{}' : '}');
    return pieces;
  }

  private federation(part: SiteConfig['federation']): string {
    const cached = this.federationParts.get(part.sites);
    if (cached !== undefined && cached.numberRanges === part.numberRanges && cached.hubSiteId === part.hubSiteId) return cached.json;
    const json = canonicalJson(part);
    this.federationParts.set(part.sites, { numberRanges: part.numberRanges, hubSiteId: part.hubSiteId, json });
    return json;
  }

  private array(items: readonly object[]): string {
    return `[${items.map((item) => this.object(item)).join(',')}]`;
  }

  private object(item: object): string {
    let json = this.objects.get(item);
    if (json === undefined) this.objects.set(item, (json = canonicalJson(item)));
    return json;
  }
}
