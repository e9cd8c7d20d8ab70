import { createHash } from 'node:crypto';
import { canonicalJson, type Extension, type Federation, type SiteConfig } from '@fedpbx/contracts';
import { buildSiteConfig } from '@fedpbx/dialplan';

/** A site's extensions without a pass over all of them (a ValidatedFederation keeps them by site). */
export type ExtensionsAt = (siteId: string) => readonly Extension[];

/**
 * `contentHash(buildSiteConfig(fed, siteId))` - the hash the agent verifies - without re-serializing at every
 * write what did not change. At 1,000 sites a site's config carries the whole numbering plan and every route
 * that applies to it (~500 KB of JSON, ~30 ms to serialize); a write changes a few objects of one site.
 *
 * The bytes hashed are exactly `canonicalJson(config)`, assembled from parts: canonical JSON of an object is
 * `{` + `"key":value` for its defined keys in sorted order + `}`, and of an array `[` + its elements + `]`,
 * each element serialized on its own (canonicalJson's replacer ignores where a value sits). So:
 * - the `federation` part (site directory, ranges, hub) is serialized once per (sites, ranges, hub) of the
 *   federation - it is built from those three and nothing else;
 * - the outbound routes and classes of service - federation objects that most sites' configs carry - are
 *   serialized once per object (federations are never mutated once built: a change makes new objects). Only
 *   those: keeping the JSON of every extension, or of the remote-trunk entries built afresh for each config,
 *   would hold megabytes, or fill a WeakMap with a million dead keys, for little gain;
 * - `extensionsAt`, when given, must return exactly the site's extensions in federation order: buildSiteConfig
 *   reads extensions only through that filter, so it is handed just those instead of all 100,000.
 * site-config-hash.spec.ts holds this to contentHash(buildSiteConfig(...)) as the federation changes.
 */
export function siteConfigHash(fed: Federation, siteId: string, extensionsAt?: ExtensionsAt): string {
  const config = buildSiteConfig(extensionsAt === undefined ? fed : { ...fed, extensions: [...extensionsAt(siteId)] }, siteId);
  const hash = createHash('sha256').update('{');
  let first = true;
  for (const key of (Object.keys(config) as (keyof SiteConfig)[]).sort()) {
    const value = config[key];
    if (value === undefined) continue;
    hash.update(`${first ? '' : ','}${JSON.stringify(key)}:`);
    hash.update(key === 'federation' ? federationPartJson(fed, config.federation) : SHARED_OBJECTS.has(key) ? arrayJson(value as readonly object[]) : canonicalJson(value));
    first = false;
  }
  return `sha256:${hash.update('}').digest('hex')}`;
}

/** Canonical JSON of the `federation` part, by the sites array it was built from (with its ranges and hub). */
const FEDERATION_PARTS = new WeakMap<Federation['sites'], { numberRanges: Federation['numberRanges']; hubSiteId: string | undefined; json: string }>();

function federationPartJson(fed: Federation, part: SiteConfig['federation']): string {
  const cached = FEDERATION_PARTS.get(fed.sites);
  if (cached !== undefined && cached.numberRanges === fed.numberRanges && cached.hubSiteId === fed.hubSiteId) return cached.json;
  const json = canonicalJson(part);
  FEDERATION_PARTS.set(fed.sites, { numberRanges: fed.numberRanges, hubSiteId: fed.hubSiteId, json });
  return json;
}

/** The parts of a site's config that are arrays of federation objects shared by many sites. */
const SHARED_OBJECTS = new Set<keyof SiteConfig>(['outboundRoutes', 'classesOfService']);

/** Canonical JSON of a shared federation object, by the object. */
const OBJECTS = new WeakMap<object, string>();

function arrayJson(items: readonly object[]): string {
  const parts = items.map((item) => {
    let json = OBJECTS.get(item);
    if (json === undefined) OBJECTS.set(item, (json = canonicalJson(item)));
    return json;
  });
  return `[${parts.join(',')}]`;
}
