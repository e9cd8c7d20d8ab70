import type {
  CallClass,
  Extension,
  CallFlow,
  InboundRoute,
  InterSiteLink,
  OutboundRoute,
  RestrictableCallClass,
  Site,
  SiteConfig,
  SiteDirectoryEntry,
  Trunk,
} from '@fedpbx/contracts';
import { NumberingPlan } from '../numbering/numbering-plan.js';
import { PatternSet } from '../patterns/index.js';
import { trunkEndpointName } from '../render/names.js';
import { ExtensionTable, runToEnd } from './extension-table.js';

/** A trunk as the resolver sees it: own trunks in full, other sites' trunks by id, site and name only. */
export interface TrunkRef {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  readonly emergency: boolean;
  readonly local: boolean;
  /** `trunk-<name>`, the PJSIP endpoint a call dials it on (made once here, not per call). */
  readonly endpoint: string;
}

/**
 * One site's snapshot turned into lookup structures, once per applied revision ("code loaded once, never per
 * call"). Every per-call decision in `resolveRoute` is a map lookup, a binary search or a pattern-trie walk.
 * It keeps only what routing reads, not the `SiteConfig` it was built from: the agent holds it for as long as the
 * revision is in force, and a head office's parsed extensions (ids, SIP secrets) would double its heap.
 */
export interface CompiledSite {
  readonly siteId: string;
  readonly revision: number;
  readonly site: Site;
  readonly plan: NumberingPlan;
  readonly directory: ReadonlyMap<string, SiteDirectoryEntry>;
  readonly hubSiteId: string | undefined;
  /** The site's own extensions by number. */
  readonly extensions: ExtensionTable;
  /**
   * The list `extensions` was built from, not kept alive by it: the next compile from the very same list (a
   * numbering plan change applied with the site part in force) takes the table over instead of building it again.
   */
  readonly extensionsFrom?: WeakRef<readonly Extension[]>;
  readonly flows: ReadonlyMap<string, CallFlow>;
  readonly flowsByNumber: ReadonlyMap<string, CallFlow>;
  readonly trunks: ReadonlyMap<string, TrunkRef>;
  /** Own trunks by name (`trunk-<name>` is the PJSIP endpoint a call from the PSTN comes in on). */
  readonly localTrunksByName: ReadonlyMap<string, TrunkRef>;
  /** Own trunks that may carry emergency calls, in declaration order. */
  readonly emergencyTrunks: readonly TrunkRef[];
  readonly emergencyNumbers: ReadonlySet<string>;
  /** Inter-site links of this site by peer site. */
  readonly links: ReadonlyMap<string, InterSiteLink>;
  /** Outbound routes this site uses as the origin of a call. */
  readonly outbound: PatternSet<OutboundRoute>;
  /** Outbound routes of other origins that hop off through one of this site's trunks. */
  readonly hopOff: PatternSet<OutboundRoute>;
  readonly inbound: PatternSet<InboundRoute>;
  /** Effective classes per class of service, clipped by the site's ceiling. */
  readonly classesOfService: ReadonlyMap<string, ReadonlySet<CallClass>>;
  /** What a caller with no (known) class of service may do. */
  readonly defaultClasses: ReadonlySet<CallClass>;
}

export function routeAppliesTo(route: OutboundRoute, siteId: string): boolean {
  return route.sites.length === 0 || route.sites.includes(siteId);
}

/**
 * The site compiled from the snapshot before, with the config (extensions aside) it was compiled from. A part of
 * the new config that is the very same object as before - a snapshot verified part by part takes over the parts
 * that did not change - keeps what was built from it instead of being built again: a change to the numbering plan
 * recompiles the plan, not the routes' pattern tries.
 */
export interface PreviousCompile {
  readonly config: Omit<SiteConfig, 'extensions'>;
  readonly site: CompiledSite;
}

/**
 * What a site is compiled from: its config with its extensions as a list, or with them already built into their
 * table (a head office's, read and built in a worker thread: no extension object on the event loop).
 */
export type SiteConfigToCompile = Omit<SiteConfig, 'extensions'> & ({ readonly extensions: readonly Extension[] } | { readonly extensionTable: ExtensionTable });

export function compileSite(config: SiteConfigToCompile, revision: number, previous?: PreviousCompile): CompiledSite {
  return runToEnd(compilingSite(config, revision, previous));
}

/**
 * {@link compileSite} in slices: between them it awaits `pause` (the agent: one turn of the event loop, so calls
 * keep being answered - on the site compiled before - while a head office's 100,000 extensions are compiled).
 * The same result as compileSite; nothing of it is visible until it resolves.
 */
export async function compileSiteInSlices(config: SiteConfigToCompile, revision: number, previous: PreviousCompile | undefined, pause: () => Promise<void>): Promise<CompiledSite> {
  const steps = compilingSite(config, revision, previous);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

/**
 * The compile, yielding where a pause may come: between slices of the extension table. The rest (plan, pattern
 * tries, maps of trunks and links) is small beside it, and taken over from `previous` where its part did not change.
 */
export function* compilingSite(config: SiteConfigToCompile, revision: number, previous?: PreviousCompile): Generator<void, CompiledSite> {
  const site = config.site;
  const siteId = site.id;
  const before = previous !== undefined && previous.site.siteId === siteId ? previous : undefined;
  const same = (...parts: (keyof PreviousCompile['config'])[]): boolean => before !== undefined && parts.every((p) => before.config[p] === config[p]);

  const sameFederation = same('federation');
  const sameSites = before !== undefined && before.config.federation.sites === config.federation.sites;
  const directory = sameSites && before !== undefined ? before.site.directory : new Map(config.federation.sites.map((s) => [s.id, s]));
  const plan = sameFederation && before !== undefined ? before.site.plan : new NumberingPlan(config.federation.sites, config.federation.numberRanges, sameSites ? before?.site.plan : undefined);

  const sameTrunks = same('trunks', 'remoteTrunks');
  const own: Trunk[] = config.trunks.filter((t) => t.siteId === siteId);
  let trunks: ReadonlyMap<string, TrunkRef>;
  if (sameTrunks && before !== undefined) trunks = before.site.trunks;
  else {
    const built = new Map<string, TrunkRef>();
    for (const t of own) built.set(t.id, { id: t.id, siteId, name: t.name, emergency: t.emergency, local: true, endpoint: trunkEndpointName(t.name) });
    for (const t of config.remoteTrunks) built.set(t.id, { id: t.id, siteId: t.siteId, name: t.name, emergency: false, local: false, endpoint: trunkEndpointName(t.name) });
    trunks = built;
  }

  let links: ReadonlyMap<string, InterSiteLink>;
  if (same('links') && before !== undefined) links = before.site.links;
  else {
    const built = new Map<string, InterSiteLink>();
    for (const l of config.links) {
      if (l.a === siteId) built.set(l.b, l);
      else if (l.b === siteId) built.set(l.a, l);
    }
    links = built;
  }

  let outbound: PatternSet<OutboundRoute>;
  let hopOff: PatternSet<OutboundRoute>;
  if (sameTrunks && same('outboundRoutes') && before !== undefined) ({ outbound, hopOff } = before.site);
  else {
    const outboundEntries: { pattern: string; value: OutboundRoute }[] = [];
    const hopOffEntries: { pattern: string; value: OutboundRoute }[] = [];
    for (const route of config.outboundRoutes) {
      const usesOwnTrunk = route.trunks.some((p) => trunks.get(p.trunkId)?.local === true);
      for (const pattern of route.patterns) {
        if (routeAppliesTo(route, siteId)) outboundEntries.push({ pattern, value: route });
        if (usesOwnTrunk) hopOffEntries.push({ pattern, value: route });
      }
    }
    outbound = new PatternSet(outboundEntries);
    hopOff = new PatternSet(hopOffEntries);
  }

  const ceiling = new Set<CallClass>(site.classOfServiceCeiling);
  const clip = (allow: readonly RestrictableCallClass[]): ReadonlySet<CallClass> =>
    new Set<CallClass>(allow.filter((c) => ceiling.has(c)));
  const classesOfService = new Map(config.classesOfService.map((c) => [c.id, clip(c.allow)]));
  const defaultClasses =
    (site.defaultClassOfServiceId !== undefined ? classesOfService.get(site.defaultClassOfServiceId) : undefined) ?? ceiling;

  const ownTrunkRefs = own.map((t) => trunks.get(t.id) as TrunkRef);
  let extensions: ExtensionTable;
  if ('extensionTable' in config) extensions = config.extensionTable;
  else if (before !== undefined && before.site.extensionsFrom?.deref() === config.extensions) extensions = before.site.extensions;
  else {
    yield;
    extensions = yield* ExtensionTable.building(config.extensions, { siteId, ...(before !== undefined ? { previous: before.site.extensions } : {}) });
  }
  return {
    siteId,
    revision,
    site,
    plan,
    directory,
    hubSiteId: config.federation.hubSiteId,
    extensions,
    ...('extensions' in config ? { extensionsFrom: new WeakRef(config.extensions) } : {}),
    flows: new Map(config.callFlows.map((f) => [f.id, f])),
    flowsByNumber: new Map(
      config.callFlows.filter((f) => f.siteId === siteId && f.number !== undefined).map((f) => [f.number as string, f]),
    ),
    trunks,
    localTrunksByName: new Map(ownTrunkRefs.map((t) => [t.name, t])),
    emergencyTrunks: ownTrunkRefs.filter((t) => t.emergency),
    emergencyNumbers: new Set(site.emergencyNumbers),
    links,
    outbound,
    hopOff,
    inbound: same('inboundRoutes') && before !== undefined ? before.site.inbound : new PatternSet(config.inboundRoutes.filter((r) => r.siteId === siteId).map((r) => ({ pattern: r.did, value: r }))),
    classesOfService,
    defaultClasses,
  };
}
