import type { Federation } from '@fedpbx/contracts';
import { routeAppliesTo } from '@fedpbx/dialplan';
import { findObject, type CollectionName, type FederationChange, type ObjectOf } from './federation-change.js';
import type { ExtensionsAt } from './site-config-hash.js';
import type { SiteOwnedConfig } from './site-owned-config.js';

/** An object of the federation as it was before a write. */
export type BeforeLookup = <C extends CollectionName>(collection: C, id: string) => ObjectOf<C> | undefined;

/**
 * {@link BeforeLookup} that looks each object up once: the impact and the audit log of a write both ask for the
 * objects it changes, and in a collection of 100,000 extensions a lookup is a scan.
 */
export function lookupOnce(before: Federation): BeforeLookup {
  const found = new Map<string, unknown>();
  return <C extends CollectionName>(collection: C, id: string): ObjectOf<C> | undefined => {
    const key = `${collection}/${id}`;
    if (!found.has(key)) found.set(key, findObject(before, collection, id));
    return found.get(key) as ObjectOf<C> | undefined;
  };
}

/**
 * What the sites of {@link candidateSites} are for: a site's whole snapshot (`config`: in the split format a site
 * part names the shared part, so whatever the shared part carries reaches every site), or its paired site part
 * alone (`site-part`: split-snapshot.ts PAIRED_FORMAT, which names no shared part - the numbering plan and the
 * classes of service, which only the shared part carries, reach no site part).
 */
export type ImpactScope = 'config' | 'site-part';

/**
 * Sites whose snapshot (or paired site part, per `scope`) a change can affect, from what buildSiteConfig puts in a
 * site's view: a superset of the sites whose content hash really changes (the hashes decide). Extensions, flows and
 * inbound routes are seen by their own site (where the object was, and where every upsert puts it); links by their
 * two ends; extensions and links also by the sites that show remote presence (other sites' numbers, over links);
 * sites and the hub (the directory, presence through the hub) by every site; ranges and classes of service by every
 * site's config and by no site part.
 */
export function candidateSites(before: Federation, after: Federation, changes: readonly FederationChange[], previous: BeforeLookup = lookupOnce(before), scope: ImpactScope = 'config'): Set<string> | 'all' {
  const out = new Set<string>();
  for (const c of changes) {
    switch (c.collection) {
      case 'hub':
      case 'sites':
        return 'all';
      case 'numberRanges':
      case 'classesOfService':
        if (scope === 'config') return 'all';
        break;
      case 'extensions':
        addPresenceViewers(out, before, after);
        addOwnerSites(out, c, previous);
        break;
      case 'inboundRoutes':
      case 'callFlows':
        addOwnerSites(out, c, previous);
        break;
      case 'links': {
        // Presence goes over links (and through the hub's): a link changes what sites showing presence can reach.
        addPresenceViewers(out, before, after);
        const id = c.op === 'upsert' ? c.value.id : c.id;
        for (const fed of [before, after]) {
          const l = findObject(fed, 'links', id);
          if (l !== undefined) out.add(l.a).add(l.b);
        }
        break;
      }
      case 'trunks': {
        // Its own site, and every site whose routes name it (they see it as a remote trunk).
        const id = c.op === 'upsert' ? c.value.id : c.id;
        for (const fed of [before, after]) {
          const t = findObject(fed, 'trunks', id);
          if (t !== undefined) out.add(t.siteId);
          for (const r of fed.outboundRoutes) {
            if (!r.trunks.some((p) => p.trunkId === id)) continue;
            if (r.sites.length === 0) return 'all';
            for (const s of r.sites) out.add(s);
          }
        }
        break;
      }
      case 'outboundRoutes': {
        // Sites that use the route, and sites whose trunks it names (they carry the hop-off calls).
        const id = c.op === 'upsert' ? c.value.id : c.id;
        for (const fed of [before, after]) {
          const r = findObject(fed, 'outboundRoutes', id);
          if (r === undefined) continue;
          if (r.sites.length === 0) return 'all';
          for (const s of fed.sites) if (routeAppliesTo(r, s.id)) out.add(s.id);
          for (const p of r.trunks) {
            const t = findObject(fed, 'trunks', p.trunkId);
            if (t !== undefined) out.add(t.siteId);
          }
        }
        break;
      }
    }
  }
  return out;
}

/** The site an extension, flow or inbound route was at before the change, and the one an upsert puts it at. */
function addOwnerSites(out: Set<string>, c: Extract<FederationChange, { collection: 'extensions' | 'inboundRoutes' | 'callFlows' }>, previous: BeforeLookup): void {
  const o = previous(c.collection, c.op === 'upsert' ? c.value.id : c.id);
  if (o !== undefined) out.add(o.siteId);
  if (c.op === 'upsert') out.add(c.value.siteId);
}

/** The sites whose view lists remote presence (other sites' numbers, reached over links), before and after. */
function addPresenceViewers(out: Set<string>, before: Federation, after: Federation): void {
  for (const s of sitesShowingPresence(before)) out.add(s);
  for (const s of sitesShowingPresence(after)) out.add(s);
}

/** Sites of a `sites` array whose view lists remote presence (remoteHints other than none), kept per array. */
const SHOWING_PRESENCE = new WeakMap<Federation['sites'], readonly string[]>();

function sitesShowingPresence(fed: Federation): readonly string[] {
  let ids = SHOWING_PRESENCE.get(fed.sites);
  if (ids === undefined) SHOWING_PRESENCE.set(fed.sites, (ids = fed.sites.filter((s) => (s.presence?.remoteHints ?? 'none') !== 'none').map((s) => s.id)));
  return ids;
}

/** What a revision of a site records: the objects it owns (what a rollback restores). */
export function siteOwnedConfig(fed: Federation, siteId: string): SiteOwnedConfig | undefined {
  const site = fed.sites.find((s) => s.id === siteId);
  if (site === undefined) return undefined;
  const own = <T extends { siteId: string }>(xs: readonly T[]): T[] => xs.filter((x) => x.siteId === siteId);
  return {
    site,
    numberRanges: own(fed.numberRanges),
    extensions: own(fed.extensions),
    trunks: own(fed.trunks),
    inboundRoutes: own(fed.inboundRoutes),
    callFlows: own(fed.callFlows),
  };
}

/**
 * {@link siteOwnedConfig} of many sites in one pass over the federation (a bulk import touches every site).
 * With `extensionsAt` (exactly a site's extensions, in federation order) the extensions are not scanned.
 */
export function siteOwnedConfigs(fed: Federation, siteIds: readonly string[], extensionsAt?: ExtensionsAt): Map<string, SiteOwnedConfig> {
  const out = new Map<string, { -readonly [K in keyof SiteOwnedConfig]: SiteOwnedConfig[K] extends readonly (infer T)[] ? T[] : SiteOwnedConfig[K] }>();
  const wanted = new Set(siteIds);
  for (const site of fed.sites) if (wanted.has(site.id)) out.set(site.id, { site, numberRanges: [], extensions: [], trunks: [], inboundRoutes: [], callFlows: [] });
  for (const x of fed.numberRanges) out.get(x.siteId)?.numberRanges.push(x);
  if (extensionsAt === undefined) for (const x of fed.extensions) out.get(x.siteId)?.extensions.push(x);
  else for (const [siteId, owned] of out) owned.extensions.push(...extensionsAt(siteId));
  for (const x of fed.trunks) out.get(x.siteId)?.trunks.push(x);
  for (const x of fed.inboundRoutes) out.get(x.siteId)?.inboundRoutes.push(x);
  for (const x of fed.callFlows) out.get(x.siteId)?.callFlows.push(x);
  return out;
}
