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
 * Sites whose snapshot a change can affect, from what buildSiteConfig puts in a site's view: a superset of the
 * sites whose content hash really changes (the hashes decide). Extensions, flows and inbound routes are seen only
 * by their own site (where the object was, and where every upsert puts it); links by their two ends; sites,
 * ranges and classes of service by every site.
 */
export function candidateSites(before: Federation, after: Federation, changes: readonly FederationChange[], previous: BeforeLookup = lookupOnce(before)): Set<string> | 'all' {
  const out = new Set<string>();
  for (const c of changes) {
    switch (c.collection) {
      case 'hub':
      case 'sites':
      case 'numberRanges':
      case 'classesOfService':
        return 'all';
      case 'extensions':
      case 'inboundRoutes':
      case 'callFlows': {
        const o = previous(c.collection, c.op === 'upsert' ? c.value.id : c.id);
        if (o !== undefined) out.add(o.siteId);
        if (c.op === 'upsert') out.add(c.value.siteId);
        break;
      }
      case 'links': {
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
