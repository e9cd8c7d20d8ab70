import type { Federation, RemoteTrunk, SiteConfig, SiteDirectoryEntry } from '@fedpbx/contracts';
import { routeAppliesTo } from '../routing/compiled-site.js';

/** Thrown when asked for the view of a site the federation does not have. */
export class UnknownSiteError extends Error {
  readonly code = 'UNKNOWN_SITE';
  constructor(readonly siteId: string) {
    super(`no site "${siteId}" in the federation`);
  }
}

/**
 * What one site may know (ARCHITECTURE.md, "Snapshot: what a site may know"): its own extensions, trunks and
 * their secrets; the federation-wide numbering plan; the links that involve it (only their credentials); the
 * routes and flows its calls use, including other sites' trunks it may hop off through (by name, never their
 * credentials); the routes of other sites that hop off through its own trunks; classes of service.
 * Never another site's extension secrets or trunk credentials.
 */
export function buildSiteConfig(federation: Federation, siteId: string): SiteConfig {
  const site = federation.sites.find((s) => s.id === siteId);
  if (site === undefined) throw new UnknownSiteError(siteId);

  const ownTrunkIds = new Set(federation.trunks.filter((t) => t.siteId === siteId).map((t) => t.id));
  const outboundRoutes = federation.outboundRoutes.filter(
    (r) => routeAppliesTo(r, siteId) || r.trunks.some((p) => ownTrunkIds.has(p.trunkId)),
  );
  const remoteTrunkIds = new Set(
    outboundRoutes.filter((r) => routeAppliesTo(r, siteId)).flatMap((r) => r.trunks.map((p) => p.trunkId)),
  );
  const remoteTrunks: RemoteTrunk[] = federation.trunks
    .filter((t) => t.siteId !== siteId && remoteTrunkIds.has(t.id))
    .map((t) => ({ id: t.id, siteId: t.siteId, name: t.name }));

  const sites: SiteDirectoryEntry[] = federation.sites.map((s) => {
    const entry: SiteDirectoryEntry = { id: s.id, name: s.name, prefixRequired: s.prefixRequired, ringTimeoutSec: s.ringTimeoutSec };
    if (s.prefix !== undefined) entry.prefix = s.prefix;
    if (s.mainNumber !== undefined) entry.mainNumber = s.mainNumber;
    const { vpnAddress, sipHost, sipPort, wireguardEndpoint, wireguardPublicKey } = s.network;
    entry.network = {
      sipPort,
      ...(vpnAddress !== undefined ? { vpnAddress } : {}),
      ...(sipHost !== undefined ? { sipHost } : {}),
      ...(wireguardEndpoint !== undefined ? { wireguardEndpoint } : {}),
      ...(wireguardPublicKey !== undefined ? { wireguardPublicKey } : {}),
    };
    return entry;
  });

  const config: SiteConfig = {
    site,
    federation: {
      sites: byId(sites),
      numberRanges: byId(federation.numberRanges),
      ...(federation.hubSiteId !== undefined ? { hubSiteId: federation.hubSiteId } : {}),
    },
    extensions: byId(federation.extensions.filter((e) => e.siteId === siteId)),
    trunks: byId(federation.trunks.filter((t) => t.siteId === siteId)),
    remoteTrunks: byId(remoteTrunks),
    links: byId(federation.links.filter((l) => l.a === siteId || l.b === siteId)),
    outboundRoutes: byId(outboundRoutes),
    inboundRoutes: byId(federation.inboundRoutes.filter((r) => r.siteId === siteId)),
    callFlows: byId(federation.callFlows.filter((f) => f.siteId === siteId)),
    classesOfService: byId(federation.classesOfService),
  };
  return config;
}

/**
 * Collections in id order, so a site's view - and its content hash - depends on what the federation holds, not
 * on the order it was written or loaded in (the controller loads by id; in memory, new objects come last).
 * Nothing in a site's routing depends on array order. Already-sorted input (the common case) is not copied.
 */
function byId<T extends { readonly id: string }>(items: readonly T[]): T[] {
  for (let i = 1; i < items.length; i++) {
    if ((items[i - 1] as T).id > (items[i] as T).id) return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return items as T[];
}
