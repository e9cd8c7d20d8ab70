import type { CallFlow, ClassOfService, Extension, Federation, InboundRoute, InterSiteLink, NumberRange, OutboundRoute, RemotePresence, RemoteTrunk, Site, SiteConfig, SiteDirectoryEntry, Trunk } from '@fedpbx/contracts';
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
  return new SiteViews(federation).of(siteId);
}

/**
 * {@link buildSiteConfig} for many sites of one federation: what every view shares (the site directory, the
 * number ranges, classes of service, the remote-trunk entries) is built once, and each site's own objects are
 * found through per-site indexes instead of a scan of every collection - a change to the numbering plan has
 * every site's view rebuilt. The parts shared between views are the same objects in each of them. The
 * federation must not change while this is in use (the controller never mutates one: a change makes a new one).
 */
export class SiteViews {
  private readonly sites: ReadonlyMap<string, Site>;
  private readonly directory: SiteDirectoryEntry[];
  private readonly numberRanges: NumberRange[];
  private readonly classesOfService: ClassOfService[];
  private readonly trunksBySite: ReadonlyMap<string, Trunk[]>;
  private readonly remoteTrunks: ReadonlyMap<string, RemoteTrunk>;
  private readonly linksBySite: ReadonlyMap<string, InterSiteLink[]>;
  private readonly inboundBySite: ReadonlyMap<string, InboundRoute[]>;
  private readonly flowsBySite: ReadonlyMap<string, CallFlow[]>;
  /**
   * The outbound routes a site's view may hold, by index in the federation: those for every site, those scoped to
   * it, those through each trunk. A view picks from these instead of testing every route of the federation (at
   * 1,000 sites each site's view tested ~2,000 routes: ~2 million tests per plan-wide write).
   */
  private readonly routesForAll: number[] = [];
  private readonly routesScopedTo = new Map<string, number[]>();
  private readonly routesThroughTrunk = new Map<string, number[]>();
  private extensionsBySite: ReadonlyMap<string, Extension[]> | undefined;
  /** Site -> the numbers of its extensions it shares the presence of, sorted (built on first use). */
  private readonly sharedBySite = new Map<string, readonly string[]>();

  /**
   * `extensionsAt`, when given, returns exactly a site's extensions in federation order (a validated federation
   * keeps them by site); otherwise they are indexed on first use.
   */
  constructor(
    private readonly federation: Federation,
    private readonly extensionsAt?: (siteId: string) => readonly Extension[],
  ) {
    const sites = derived(federation.sites, siteIndex);
    this.sites = sites.byId;
    this.directory = sites.directory;
    this.numberRanges = sortedById(federation.numberRanges);
    this.classesOfService = sortedById(federation.classesOfService);
    const trunks = derived(federation.trunks, trunkIndex);
    this.trunksBySite = trunks.bySite;
    this.remoteTrunks = trunks.remote;
    this.linksBySite = derived(federation.links, linksBySite);
    this.inboundBySite = derived(federation.inboundRoutes, bySiteId);
    this.flowsBySite = derived(federation.callFlows, bySiteId);
    federation.outboundRoutes.forEach((r, i) => {
      if (r.sites.length === 0) this.routesForAll.push(i);
      for (const s of new Set(r.sites)) push(this.routesScopedTo, s, i);
      for (const trunkId of new Set(r.trunks.map((p) => p.trunkId))) push(this.routesThroughTrunk, trunkId, i);
    });
  }

  of(siteId: string): SiteConfig {
    const site = this.sites.get(siteId);
    if (site === undefined) throw new UnknownSiteError(siteId);
    const federation = this.federation;

    const trunks = this.trunksBySite.get(siteId) ?? NONE;
    const ownTrunkIds = new Set(trunks.map((t) => t.id));
    // The candidates in federation order, then the same test as over the whole list.
    const candidates = new Set([...this.routesForAll, ...(this.routesScopedTo.get(siteId) ?? [])]);
    for (const id of ownTrunkIds) for (const i of this.routesThroughTrunk.get(id) ?? []) candidates.add(i);
    const outboundRoutes = [...candidates]
      .sort((a, b) => a - b)
      .map((i) => federation.outboundRoutes[i] as OutboundRoute)
      .filter((r) => routeAppliesTo(r, siteId) || r.trunks.some((p) => ownTrunkIds.has(p.trunkId)));
    const remoteTrunks = new Map<string, RemoteTrunk>();
    for (const r of outboundRoutes) {
      if (!routeAppliesTo(r, siteId)) continue;
      for (const p of r.trunks) {
        const remote = this.remoteTrunks.get(p.trunkId);
        if (remote !== undefined && remote.siteId !== siteId) remoteTrunks.set(remote.id, remote);
      }
    }

    return {
      site,
      federation: {
        sites: this.directory,
        numberRanges: this.numberRanges,
        ...(federation.hubSiteId !== undefined ? { hubSiteId: federation.hubSiteId } : {}),
      },
      extensions: sortedById(this.extensionsOf(siteId)),
      trunks,
      remoteTrunks: byId([...remoteTrunks.values()]),
      links: this.linksBySite.get(siteId) ?? NONE,
      outboundRoutes: byId(outboundRoutes),
      inboundRoutes: this.inboundBySite.get(siteId) ?? NONE,
      callFlows: this.flowsBySite.get(siteId) ?? NONE,
      classesOfService: this.classesOfService,
      ...this.remotePresenceOf(site),
    };
  }

  /**
   * The remote extensions that get a hint at `site`: its presence setting (`remoteHints`), limited to the sites it can
   * reach - a direct link, or the hub when the hub is linked to both (the way its calls go) - and to the extensions
   * each of them shares. Absent when empty, so sites without a presence setting keep the snapshot they had.
   */
  private remotePresenceOf(site: Site): { remotePresence?: RemotePresence[] } {
    const mode = site.presence?.remoteHints ?? 'none';
    if (mode === 'none') return {};
    const linked = (a: string): Set<string> => new Set((this.linksBySite.get(a) ?? []).map((l) => (l.a === a ? l.b : l.a)));
    const mine = linked(site.id);
    const hub = this.federation.hubSiteId;
    const viaHub = hub !== undefined && hub !== site.id && mine.has(hub) ? linked(hub) : new Set<string>();
    const reachable = (target: string): boolean => target !== site.id && this.sites.has(target) && (mine.has(target) || viaHub.has(target));
    const wanted: { siteId: string; numbers?: readonly string[] }[] =
      mode === 'all' ? [...this.sites.keys()].map((siteId) => ({ siteId })) : (site.presence?.watch ?? []);
    const out = new Map<string, Set<string>>();
    for (const w of wanted) {
      if (!reachable(w.siteId)) continue;
      const shared = this.sharedOf(w.siteId);
      let picked: readonly string[] = shared;
      if (w.numbers !== undefined) {
        const sharedSet = new Set(shared);
        picked = w.numbers.filter((n) => sharedSet.has(n));
      }
      const set = out.get(w.siteId) ?? new Set<string>();
      for (const n of picked) set.add(n);
      out.set(w.siteId, set);
    }
    const remotePresence = [...out]
      .filter(([, numbers]) => numbers.size > 0)
      .map(([siteId, numbers]) => ({ siteId, numbers: [...numbers].sort() }))
      .sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    return remotePresence.length === 0 ? {} : { remotePresence };
  }

  private sharedOf(siteId: string): readonly string[] {
    let shared = this.sharedBySite.get(siteId);
    if (shared === undefined) {
      const presence = this.sites.get(siteId)?.presence;
      const share = presence?.share ?? 'all';
      const listed = new Set(presence?.sharedNumbers ?? []);
      shared = share === 'none' ? [] : this.extensionsOf(siteId).map((e) => e.number).filter((n) => share === 'all' || listed.has(n)).sort();
      this.sharedBySite.set(siteId, shared);
    }
    return shared;
  }

  private extensionsOf(siteId: string): readonly Extension[] {
    if (this.extensionsAt !== undefined) return this.extensionsAt(siteId);
    this.extensionsBySite ??= derived(this.federation.extensions, bySiteId);
    return this.extensionsBySite.get(siteId) ?? NONE;
  }
}

function directoryEntry(s: Site): SiteDirectoryEntry {
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
}

/** What a site without objects of a kind lists: one array for all (never mutated), so views compare alike by identity. */
const NONE: never[] = [];

/**
 * What SiteViews derives from one collection of a federation (indexes by site, the site directory), kept per
 * collection array. A write makes a new federation object but hands on the arrays it did not change (a range write
 * keeps the very `sites`, `trunks`, `links`... arrays; a validated federation keeps each untouched site's
 * extensions), so the next write's views take these over instead of indexing and sorting 1,000 sites' objects
 * again - and a view's members are then the very arrays of the view before, which lets a snapshot writer compare
 * them by identity. Sound because a federation's arrays are never mutated (see the class comment).
 */
const DERIVED = new WeakMap<object, WeakMap<(items: never) => unknown, unknown>>();

function derived<T, R>(items: readonly T[], derive: (items: readonly T[]) => R): R {
  let byFunction = DERIVED.get(items);
  if (byFunction === undefined) DERIVED.set(items, (byFunction = new WeakMap()));
  let out = byFunction.get(derive as (items: never) => unknown) as R | undefined;
  if (out === undefined) byFunction.set(derive as (items: never) => unknown, (out = derive(items)));
  return out;
}

function siteIndex(sites: readonly Site[]): { byId: Map<string, Site>; directory: SiteDirectoryEntry[] } {
  return { byId: new Map(sites.map((s) => [s.id, s])), directory: byId(sites.map(directoryEntry)) };
}

function trunkIndex(trunks: readonly Trunk[]): { bySite: Map<string, Trunk[]>; remote: Map<string, RemoteTrunk> } {
  const remote = new Map<string, RemoteTrunk>();
  for (const t of trunks) remote.set(t.id, { id: t.id, siteId: t.siteId, name: t.name });
  return { bySite: bySiteId(trunks), remote };
}

/** Each site's objects, in id order. */
function bySiteId<T extends { readonly id: string; readonly siteId: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of items) push(out, x.siteId, x);
  return sortLists(out);
}

/** Each site's links (both ends), in id order. */
function linksBySite(links: readonly InterSiteLink[]): Map<string, InterSiteLink[]> {
  const out = new Map<string, InterSiteLink[]>();
  for (const l of links) {
    push(out, l.a, l);
    if (l.b !== l.a) push(out, l.b, l);
  }
  return sortLists(out);
}

function sortLists<T extends { readonly id: string }>(lists: Map<string, T[]>): Map<string, T[]> {
  for (const [key, list] of lists) lists.set(key, byId(list));
  return lists;
}

/** {@link byId} of an array the federation holds (its ranges, a site's extensions): sorted once per array. */
function sortedById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return derived(items, byId) as T[];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
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
