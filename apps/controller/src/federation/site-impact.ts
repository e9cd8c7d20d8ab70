import type { Federation } from '@fedpbx/contracts';
import { buildSiteConfig, routeAppliesTo } from '@fedpbx/dialplan';
import { contentHash } from '@fedpbx/signing';
import { findObject, type FederationChange } from './federation-change.js';
import type { SiteOwnedConfig } from './site-owned-config.js';

/**
 * Sites whose snapshot a change can affect, from what buildSiteConfig puts in a site's view: a superset of the
 * sites whose content hash really changes (the hashes decide). Extensions, flows and inbound routes are seen only
 * by their own site; links by their two ends; sites, ranges and classes of service by every site.
 */
export function candidateSites(before: Federation, after: Federation, changes: readonly FederationChange[]): Set<string> | 'all' {
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
        const id = c.op === 'upsert' ? c.value.id : c.id;
        for (const fed of [before, after]) {
          const o = findObject(fed, c.collection, id);
          if (o !== undefined) out.add(o.siteId);
        }
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

/** Content hash of a site's snapshot config, as the agent will verify it. */
export const siteConfigHash = (fed: Federation, siteId: string): string => contentHash(buildSiteConfig(fed, siteId));

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

/** {@link siteOwnedConfig} of many sites in one pass over the federation (a bulk import touches every site). */
export function siteOwnedConfigs(fed: Federation, siteIds: readonly string[]): Map<string, SiteOwnedConfig> {
  const out = new Map<string, { -readonly [K in keyof SiteOwnedConfig]: SiteOwnedConfig[K] extends readonly (infer T)[] ? T[] : SiteOwnedConfig[K] }>();
  const wanted = new Set(siteIds);
  for (const site of fed.sites) if (wanted.has(site.id)) out.set(site.id, { site, numberRanges: [], extensions: [], trunks: [], inboundRoutes: [], callFlows: [] });
  for (const x of fed.numberRanges) out.get(x.siteId)?.numberRanges.push(x);
  for (const x of fed.extensions) out.get(x.siteId)?.extensions.push(x);
  for (const x of fed.trunks) out.get(x.siteId)?.trunks.push(x);
  for (const x of fed.inboundRoutes) out.get(x.siteId)?.inboundRoutes.push(x);
  for (const x of fed.callFlows) out.get(x.siteId)?.callFlows.push(x);
  return out;
}
