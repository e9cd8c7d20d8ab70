import type { CallFlow, ClassOfService, Federation, InboundRoute, NumberRange, OutboundRoute, Site, Trunk } from '@fedpbx/contracts';
import { IntervalIndex, intersectSpan } from '../numbering/interval-index.js';
import { NumberingPlan, type NumberTarget } from '../numbering/numbering-plan.js';
import {
  compareExtensions,
  matchesPattern,
  parsePattern,
  patternHazards,
  patternsIntersect,
  PatternSyntaxError,
  rangeToPatterns,
  type ExtensionPattern,
} from '../patterns/index.js';
import type { FederationIssue, ObjectRef, ObjectType } from './federation-issues.js';
import { parseIp } from '../render/net.js';
import { IssueList, siteRef } from './issue-list.js';
import { checkEmergencySurvivability, checkFlowSurvivability, checkRouteSurvivability } from './survivability-checks.js';

/** An inbound route that leads to a number of its site's plan (an extension or a mailbox). */
export interface NumberDestination {
  readonly route: InboundRoute;
  readonly number: string;
  /** Where the number leads from the route's site. */
  readonly target: NumberTarget | undefined;
}

/**
 * What the per-site number checks ({@link checkSiteNumbers}) need from the rest of the federation. Built from
 * everything but the extensions, so it stays valid for as long as nothing but extensions changes.
 */
export interface NumberingContext {
  readonly sites: ReadonlyMap<string, Site>;
  /** The emergency numbers of every site id (of each site object with that id, should the id be used twice). */
  readonly emergencyNumbers: ReadonlyMap<string, readonly string[]>;
  /** How many trunks of its own that may carry emergency calls each site id has. */
  readonly emergencyTrunks: ReadonlyMap<string, number>;
  readonly classesOfService: ReadonlyMap<string, ClassOfService>;
  /** The plan of the ranges of existing sites. */
  readonly plan: NumberingPlan;
  /** Call flows with a number, by their (existing) site, in federation order. */
  readonly numberedFlows: ReadonlyMap<string, readonly CallFlow[]>;
  /** Inbound routes leading to a number, by their (existing) site, in federation order. */
  readonly numberDestinations: ReadonlyMap<string, readonly NumberDestination[]>;
}

/** One section of {@link checkFederation}: what it was given, what it found, what it worked out. */
interface Section {
  readonly inputs: readonly unknown[];
  readonly issues: readonly FederationIssue[];
  readonly value: unknown;
}

/** The sections of the last {@link checkFederation}, for the next one to take over what it was given again. */
export type FederationSections = ReadonlyMap<string, Section>;

/**
 * Runs each section of the checks unless it is given the very inputs (by identity) it was given last time, in which
 * case its issues and value are taken over: federations are never mutated, a write makes new arrays only for the
 * collections it changes, and a section's value keeps its identity while it is taken over, so the sections after
 * it see the same input too. A section reads nothing but its inputs (and pure helpers).
 */
class Sections {
  readonly now = new Map<string, Section>();

  constructor(
    private readonly before: FederationSections | undefined,
    private readonly out: IssueList,
  ) {}

  run<T>(name: string, inputs: readonly unknown[], check: (out: IssueList) => T): T {
    const prior = this.before?.get(name);
    let section: Section;
    if (prior !== undefined && prior.inputs.length === inputs.length && prior.inputs.every((x, i) => x === inputs[i])) section = prior;
    else {
      const own = new IssueList();
      const value = check(own);
      section = { inputs, issues: own.issues, value };
    }
    this.now.set(name, section);
    for (const issue of section.issues) this.out.issues.push(issue);
    return section.value as T;
  }
}

/**
 * Every check of the federation that does not look at extensions: ids of everything else, sites and
 * prefixes, ranges, prefixed numbers, links, outbound patterns shadowing ranges, inbound routes and DID
 * blocks. What depends on extensions is left to {@link checkSiteNumbers} (numbers a site hands out, emergency
 * numbers, inbound routes that lead to a number) and to the call-flow validator.
 *
 * `before`: the sections of the checks of the federation before (a write's), of which those given the very same
 * collections are taken over - a range added re-checks the ranges, the patterns that may shadow them, the inbound
 * routes and flows whose numbers it may reach, not the sites, links, trunks and routes.
 */
export function checkFederation(fed: Federation, out: IssueList, before?: FederationSections): NumberingContext & { readonly sections: FederationSections } {
  const s = new Sections(before, out);
  for (const [type, list] of idCollections(fed)) s.run(`ids:${type}`, [list], (o) => checkDuplicateIds(type, list, o));
  s.run('trunk-names', [fed.trunks], (o) => checkTrunkNames(fed.trunks, o));

  const sites = s.run('site-map', [fed.sites], () => new Map(fed.sites.map((x) => [x.id, x])));
  const trunks = s.run('trunk-map', [fed.trunks], () => new Map(fed.trunks.map((t) => [t.id, t])));
  const flows = s.run('flow-map', [fed.callFlows], () => new Map(fed.callFlows.map((f) => [f.id, f])));
  const cos = s.run('cos-map', [fed.classesOfService], () => new Map(fed.classesOfService.map((c) => [c.id, c])));
  const needSite = (o: IssueList, siteId: string, owner: ObjectRef, what: string): boolean => {
    if (sites.has(siteId)) return true;
    o.error('dangling-reference', `${what} ${owner.id} names site "${siteId}", which does not exist`, [owner, siteRef(siteId)]);
    return false;
  };

  s.run('sites', [fed.sites, sites, cos], (o) => checkSites(fed.sites, sites, cos, o));
  s.run('hub', [fed.hubSiteId, sites], (o) => (fed.hubSiteId !== undefined ? needSite(o, fed.hubSiteId, siteRef(fed.hubSiteId), 'the hub') : undefined));
  s.run('tunnels', [fed.sites], (o) => checkTunnelIdentities(fed.sites, o));

  // --- ranges ---------------------------------------------------------------------------------------------
  const numbering = s.run('ranges', [fed.sites, sites, fed.numberRanges], (o) => {
    const rangeChecks = before?.get('ranges')?.value as RangeChecks | undefined;
    return checkRanges(fed.sites, sites, fed.numberRanges, (r) => needSite(o, r.siteId, rangeRef(r), 'range'), rangeChecks, o);
  });
  const { plan, blocks } = numbering;

  // --- call flows at sites (their numbers are checked with the site's extensions) -------------------------
  const numberedFlows = s.run('flows', [fed.callFlows, sites], (o) => {
    const byFlowSite = new Map<string, CallFlow[]>();
    for (const f of fed.callFlows) {
      if (needSite(o, f.siteId, { type: 'callFlow', id: f.id, siteId: f.siteId }, 'call flow') && f.number !== undefined) pushTo(byFlowSite, f.siteId, f);
    }
    return byFlowSite;
  });

  // --- trunks, links, routes -------------------------------------------------------------------------------
  s.run('trunks', [fed.trunks, sites], (o) => {
    for (const t of fed.trunks) needSite(o, t.siteId, { type: 'trunk', id: t.id, siteId: t.siteId }, 'trunk');
  });
  s.run('links', [fed.links, fed.sites, sites, fed.hubSiteId], (o) => checkLinks(fed, (siteId, owner) => needSite(o, siteId, owner, 'link'), o));
  const routePatterns = s.run('routes', [fed.outboundRoutes, sites, trunks], (o) => checkRoutes(fed.outboundRoutes, trunks, (siteId, owner) => needSite(o, siteId, owner, 'outbound route'), o));
  s.run('shadowing', [routePatterns, blocks], (o) => checkShadowing(routePatterns, blocks, o));

  // --- inbound routes and DIDs -----------------------------------------------------------------------------
  const numberDestinations = s.run('inbound', [fed.inboundRoutes, sites, trunks, flows, plan], (o) => checkInbound(fed, sites, trunks, flows, plan, o));
  s.run('dids', [numbering], (o) => checkDids(numbering.ranges, o));

  const emergencyNumbers = s.run('emergency-numbers', [fed.sites], () => {
    const bySite = new Map<string, string[]>();
    for (const x of fed.sites) for (const n of x.emergencyNumbers) pushTo(bySite, x.id, n);
    return bySite;
  });
  const emergencyTrunks = s.run('emergency-trunks', [fed.trunks], () => {
    const bySite = new Map<string, number>();
    for (const t of fed.trunks) if (t.emergency) bySite.set(t.siteId, (bySite.get(t.siteId) ?? 0) + 1);
    return bySite;
  });
  s.run('survivability-emergency', [fed.sites, fed.trunks, sites], (o) => checkEmergencySurvivability(fed, sites, o));
  s.run('survivability-flows', [fed.callFlows, sites, plan], (o) => checkFlowSurvivability(fed, sites, plan, o));
  s.run('survivability-routes', [fed.outboundRoutes, fed.trunks, sites], (o) => checkRouteSurvivability(fed, sites, o));
  return { sites, emergencyNumbers, emergencyTrunks, classesOfService: cos, plan, numberedFlows, numberDestinations, sections: s.now };
}

const rangeRef = (r: NumberRange): ObjectRef => ({ type: 'numberRange', id: r.id, siteId: r.siteId });

/** What the range checks work out for the checks after them, and keep for the next range check. */
interface RangeChecks {
  /** The ranges of existing sites. */
  readonly ranges: readonly NumberRange[];
  readonly plan: NumberingPlan;
  readonly blocks: readonly DialBlock[];
  /** The sites the per-range prefix warnings were worked out against, and those warnings by range. */
  readonly prefixSites: readonly Site[];
  readonly prefixWarnings: WeakMap<NumberRange, readonly FederationIssue[]>;
}

/** Site checks: prefix-required without a prefix, emergency numbers, default class, presence; prefixes that start alike. */
function checkSites(list: readonly Site[], sites: ReadonlyMap<string, Site>, cos: ReadonlyMap<string, ClassOfService>, out: IssueList): void {
  for (const s of list) {
    if (s.prefixRequired && s.prefix === undefined) {
      out.error('prefix-required-without-prefix', `site ${s.id} is marked prefix-required but has no prefix`, [siteRef(s.id)]);
    }
    if (s.emergencyNumbers.length === 0) {
      out.error('site-without-emergency-number', `site ${s.id} has no emergency number: an emergency call from it would be routed like any other number`, [siteRef(s.id)]);
    }
    if (s.defaultClassOfServiceId !== undefined && !cos.has(s.defaultClassOfServiceId)) {
      out.error('dangling-reference', `site ${s.id}'s default class of service "${s.defaultClassOfServiceId}" does not exist`, [siteRef(s.id)]);
    }
    // Busy lamps: the sites a presence setting watches are others, and exist - a warning only, so that removing a
    // site is not blocked by the lamps others had of it (a watched or shared number that is no extension gives no lamp).
    for (const w of s.presence?.watch ?? []) {
      if (w.siteId === s.id) out.error('dangling-reference', `site ${s.id}'s presence setting watches the site itself: its own phones have lamps already`, [siteRef(s.id)]);
      else if (!sites.has(w.siteId)) out.warning('dangling-reference', `site ${s.id}'s presence setting watches site "${w.siteId}", which does not exist`, [siteRef(s.id), siteRef(w.siteId)]);
    }
  }
  const prefixed = list.filter((s): s is typeof s & { prefix: string } => s.prefix !== undefined);
  for (let i = 0; i < prefixed.length; i++) {
    for (let j = i + 1; j < prefixed.length; j++) {
      const a = prefixed[i] as (typeof prefixed)[number];
      const b = prefixed[j] as (typeof prefixed)[number];
      if (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) {
        out.error(
          'prefix-conflict',
          a.prefix === b.prefix
            ? `sites ${a.id} and ${b.id} both use prefix ${a.prefix}`
            : `prefix ${a.prefix} of ${a.id} and prefix ${b.prefix} of ${b.id} start alike: a caller's digits cannot tell them apart`,
          [siteRef(a.id), siteRef(b.id)],
        );
      }
    }
  }
}

/**
 * Ranges: their sites, overlaps, prefixed numbers that collide, emergency numbers inside them, ranges that meet a
 * prefix. The plan is built over `before`'s (each site's index taken over while its ranges are the same), and a
 * range's prefix warnings are taken over while it and the sites are the very same objects.
 */
function checkRanges(list: readonly Site[], sites: ReadonlyMap<string, Site>, all: readonly NumberRange[], needSite: (r: NumberRange) => boolean, before: RangeChecks | undefined, out: IssueList): RangeChecks {
  const ranges = all.filter(needSite);
  const isPrivate = (siteId: string): boolean => sites.get(siteId)?.prefixRequired === true;
  const plan = new NumberingPlan(list, ranges, before?.prefixSites === list ? before.plan : undefined);
  const span = (a: { from: string; to: string }, b: { from: string; to: string }) => intersectSpan(a, b) as { from: string; to: string };

  for (const [x, y] of new IntervalIndex(ranges.map((r) => ({ from: r.from, to: r.to, value: r }))).overlapping()) {
    const a = x.value;
    const b = y.value;
    const common = span(a, b);
    if (a.siteId === b.siteId) {
      out.error('range-overlap', `ranges ${a.from}-${a.to} and ${b.from}-${b.to} of ${a.siteId} overlap at ${common.from}-${common.to}`, [rangeRef(a), rangeRef(b)], common);
    } else if (!isPrivate(a.siteId) && !isPrivate(b.siteId)) {
      out.error(
        'range-overlap',
        `${a.siteId}'s range ${a.from}-${a.to} overlaps ${b.siteId}'s range ${b.from}-${b.to} at ${common.from}-${common.to}; renumber, or give one site a prefix and make it prefix-required`,
        [rangeRef(a), rangeRef(b), siteRef(a.siteId), siteRef(b.siteId)],
        common,
      );
    } else {
      // A private plan overlapping a flat one: inside the private site its own numbers win.
      const [priv, flat] = isPrivate(a.siteId) ? [a, b] : [b, a];
      if (!isPrivate(flat.siteId) && sites.get(flat.siteId)?.prefix === undefined) {
        out.warning(
          'range-hidden-from-site',
          `${flat.siteId}'s numbers ${common.from}-${common.to} cannot be reached from ${priv.siteId} (its own range hides them) and ${flat.siteId} has no prefix`,
          [rangeRef(flat), rangeRef(priv), siteRef(flat.siteId), siteRef(priv.siteId)],
          common,
        );
      }
    }
  }

  // prefix + number must not be anybody's plain number (or another prefixed number).
  const blocks: DialBlock[] = ranges.map((r) => ({ from: r.from, to: r.to, range: r, private: isPrivate(r.siteId) }));
  for (const r of ranges) {
    const p = sites.get(r.siteId)?.prefix;
    if (p !== undefined && p.length + r.from.length <= 15) blocks.push({ from: p + r.from, to: p + r.to, range: r, prefix: p, private: false });
  }
  for (const [x, y] of new IntervalIndex(blocks.map((b) => ({ from: b.from, to: b.to, value: b }))).overlapping()) {
    if (x.value.prefix === undefined && y.value.prefix === undefined) continue;
    const common = span(x.value, y.value);
    const describe = (b: DialBlock) => (b.prefix !== undefined ? `${b.range.siteId}'s prefix ${b.prefix} + ${b.range.from}-${b.range.to}` : `${b.range.siteId}'s range ${b.range.from}-${b.range.to}`);
    out.error(
      'prefixed-number-collision',
      `${describe(x.value)} and ${describe(y.value)} are both dialled as ${common.from}-${common.to}`,
      [rangeRef(x.value.range), rangeRef(y.value.range), siteRef(x.value.range.siteId), siteRef(y.value.range.siteId)],
      common,
    );
  }

  checkEmergencyNumbers(list, blocks, out);
  const prefixWarnings = before?.prefixSites === list ? before.prefixWarnings : new WeakMap<NumberRange, readonly FederationIssue[]>();
  checkRangesAgainstPrefixes(list, ranges, prefixWarnings, out);
  return { ranges, plan, blocks, prefixSites: list, prefixWarnings };
}

/** Links: their sites, two links between the same sites, sites without a link (to anyone, or to the hub). */
function checkLinks(fed: Federation, needSite: (siteId: string, owner: ObjectRef) => boolean, out: IssueList): void {
  const pairs = new Map<string, string>();
  const linked = new Set<string>();
  for (const l of fed.links) {
    const ref: ObjectRef = { type: 'link', id: l.id };
    if (!needSite(l.a, ref) || !needSite(l.b, ref)) continue;
    const key = [l.a, l.b].sort().join('|');
    const prior = pairs.get(key);
    if (prior !== undefined) out.error('duplicate-link', `links ${prior} and ${l.id} both join ${l.a} and ${l.b}`, [{ type: 'link', id: prior }, ref]);
    pairs.set(key, l.id);
    linked.add(l.a).add(l.b);
  }
  if (fed.sites.length > 1) {
    for (const s of fed.sites) {
      const viaHub = fed.hubSiteId !== undefined && s.id !== fed.hubSiteId && pairs.has([s.id, fed.hubSiteId].sort().join('|'));
      if (!linked.has(s.id) && !viaHub) out.warning('site-unreachable', `site ${s.id} has no inter-site link: other sites reach it only over the PSTN`, [siteRef(s.id)]);
    }
  }
}

/** Outbound routes: their sites and trunks, and their patterns (parsed, for the shadowing check). */
function checkRoutes(
  routes: readonly OutboundRoute[],
  trunks: ReadonlyMap<string, unknown>,
  needSite: (siteId: string, owner: ObjectRef) => boolean,
  out: IssueList,
): { route: OutboundRoute; pattern: ExtensionPattern }[] {
  const routePatterns: { route: OutboundRoute; pattern: ExtensionPattern }[] = [];
  for (const r of routes) {
    const ref: ObjectRef = { type: 'outboundRoute', id: r.id };
    for (const s of r.sites) needSite(s, ref);
    for (const p of r.trunks) {
      if (!trunks.has(p.trunkId)) out.error('dangling-reference', `outbound route "${r.name}" names trunk "${p.trunkId}", which does not exist`, [ref, { type: 'trunk', id: p.trunkId }]);
    }
    for (const text of r.patterns) {
      try {
        routePatterns.push({ route: r, pattern: parsePattern(text) });
        for (const h of patternHazards(text)) {
          if (h.severity === 'error') out.error('invalid-pattern', `outbound route "${r.name}": ${h.reason}`, [ref]);
          else out.warning('risky-pattern', `outbound route "${r.name}": ${h.reason}`, [ref]);
        }
      } catch (e) {
        if (!(e instanceof PatternSyntaxError)) throw e;
        out.error('invalid-pattern', `outbound route "${r.name}": ${e.message}`, [ref]);
      }
    }
  }
  return routePatterns;
}

/** PSTN numbers (a range's pstnPrefix + its numbers) that belong to two ranges. */
function checkDids(ranges: readonly NumberRange[], out: IssueList): void {
  const didBlocks = ranges
    .filter((r): r is NumberRange & { pstnPrefix: string } => r.pstnPrefix !== undefined && r.pstnPrefix.replace('+', '').length + r.from.length <= 15)
    .map((r) => ({ from: r.pstnPrefix.replace('+', '') + r.from, to: r.pstnPrefix.replace('+', '') + r.to, value: r }));
  for (const [x, y] of new IntervalIndex(didBlocks).overlapping()) {
    const common = intersectSpan(x, y) as { from: string; to: string };
    out.error('did-owned-twice', `PSTN numbers ${common.from}-${common.to} belong to both ${x.value.siteId}'s range ${x.value.from}-${x.value.to} and ${y.value.siteId}'s range ${y.value.from}-${y.value.to}`, [rangeRef(x.value), rangeRef(y.value)], common);
  }
}

/**
 * An emergency number must never be an internal number: not inside any site's range, as dialled plainly or
 * as prefix + number. Otherwise the number belongs to two plans at once - a site whose emergency list loses it
 * (or another site, whose plan reaches that range) routes the call to an office instead of emergency services.
 * Each distinct number is compared with every block once (most federations share one or two numbers).
 */
function checkEmergencyNumbers(sites: readonly Site[], blocks: readonly DialBlock[], out: IssueList): void {
  const sitesByNumber = new Map<string, string[]>();
  for (const s of sites) for (const n of new Set(s.emergencyNumbers)) pushTo(sitesByNumber, n, s.id);
  for (const [n, siteIds] of sitesByNumber) {
    for (const b of blocks) {
      if (b.from.length !== n.length || n < b.from || n > b.to) continue;
      const where = b.prefix !== undefined ? `${b.range.siteId}'s prefix ${b.prefix} + range ${b.range.from}-${b.range.to}` : `${b.range.siteId}'s range ${b.range.from}-${b.range.to}`;
      // One issue per site whose number it is: each names one site, so it can be shown to that site's admins.
      for (const siteId of siteIds) {
        out.error(
          'emergency-number-in-range',
          `emergency number ${n} of ${siteId} is inside ${where}: it must never be an internal number (renumber the range around it)`,
          [{ type: 'numberRange', id: b.range.id, siteId: b.range.siteId }, siteRef(siteId)],
          { from: n, to: n },
        );
      }
    }
  }
}

/**
 * A range whose numbers start with another site's prefix (or are the start of it, such as range 5-5 when a site's
 * prefix is 5) makes a caller's digits ambiguous: Asterisk has both a complete number and a longer prefixed one
 * that begins alike, so it waits for the digit timeout or takes the wrong one. Exact collisions of prefix +
 * number with a plain number are errors (`prefixed-number-collision`); this is the rest, a warning.
 */
function checkRangesAgainstPrefixes(sites: readonly Site[], ranges: readonly NumberRange[], memo: WeakMap<NumberRange, readonly FederationIssue[]>, out: IssueList): void {
  const prefixed = sites.filter((s): s is Site & { prefix: string } => s.prefix !== undefined);
  if (prefixed.length === 0) return;
  for (const r of ranges) {
    // A range's warnings depend on it and on the sites only (`memo` is of these very sites).
    let issues = memo.get(r);
    if (issues === undefined) memo.set(r, (issues = rangeAgainstPrefixes(r, prefixed)));
    for (const issue of issues) out.issues.push(issue);
  }
}

function rangeAgainstPrefixes(r: NumberRange, prefixed: readonly (Site & { prefix: string })[]): readonly FederationIssue[] {
  const out = new IssueList();
  const len = r.from.length;
  for (const s of prefixed) {
    if (s.id === r.siteId) continue;
    const p = s.prefix;
    let span: { from: string; to: string } | undefined;
    if (len <= p.length) {
      const head = p.slice(0, len);
      if (r.from <= head && head <= r.to) span = { from: head, to: head };
    } else {
      const lo = p + '0'.repeat(len - p.length);
      const hi = p + '9'.repeat(len - p.length);
      if (r.from <= hi && lo <= r.to) span = { from: r.from > lo ? r.from : lo, to: r.to < hi ? r.to : hi };
    }
    if (span === undefined) continue;
    out.warning(
      'range-meets-prefix',
      len <= p.length
        ? `${r.siteId}'s range ${r.from}-${r.to} holds ${span.from}, the start of ${s.id}'s prefix ${p}: a caller dialling ${s.id} as ${p} + number may reach ${r.siteId}'s ${span.from} instead`
        : `${r.siteId}'s numbers ${span.from}-${span.to} begin with ${s.id}'s prefix ${p}: they look like ${s.id}'s prefixed numbers to a caller and to Asterisk`,
      [{ type: 'numberRange', id: r.id, siteId: r.siteId }, siteRef(r.siteId), siteRef(s.id)],
      span,
    );
  }
  return out.issues;
}

/** A block of numbers as dialled: a range as it is, or its site's prefix + the range. */
interface DialBlock {
  readonly from: string;
  readonly to: string;
  readonly range: NumberRange;
  readonly prefix?: string;
  readonly private: boolean;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** The collections whose ids are checked here (the extensions' are checked with them, validated-federation.ts). */
function idCollections(fed: Federation): [ObjectType, readonly { id: string }[]][] {
  return [
    ['site', fed.sites],
    ['numberRange', fed.numberRanges],
    ['trunk', fed.trunks],
    ['link', fed.links],
    ['outboundRoute', fed.outboundRoutes],
    ['inboundRoute', fed.inboundRoutes],
    ['callFlow', fed.callFlows],
    ['classOfService', fed.classesOfService],
  ];
}

function checkDuplicateIds(type: ObjectType, list: readonly { id: string }[], out: IssueList): void {
  const seen = new Set<string>();
  for (const o of list) {
    if (seen.has(o.id)) out.error('duplicate-id', `two ${type} objects share the id ${o.id}`, [{ type, id: o.id }]);
    seen.add(o.id);
  }
}

function checkTrunkNames(trunks: readonly Trunk[], out: IssueList): void {
  const trunkNames = new Set<string>();
  for (const t of trunks) {
    const key = `${t.siteId}/${t.name}`;
    if (trunkNames.has(key)) out.error('duplicate-id', `two trunks at ${t.siteId} are named ${t.name}`, [{ type: 'trunk', id: t.id, siteId: t.siteId }]);
    trunkNames.add(key);
  }
}

/**
 * An outbound pattern that Asterisk would try before a range's own patterns (ext_cmp) and that matches some of
 * its numbers takes those numbers away from the range: `_10X` shadows 100-109 of 100-299, while `_X.` does not
 * (a literal digit sorts before `X`, and `.` after every set).
 */
function checkShadowing(routePatterns: readonly { route: OutboundRoute; pattern: ExtensionPattern }[], blocks: readonly DialBlock[], out: IssueList): void {
  const byLength = new Map<number, { block: DialBlock; patterns: ExtensionPattern[] }[]>();
  for (const block of blocks) {
    const list = byLength.get(block.from.length) ?? [];
    list.push({ block, patterns: rangeToPatterns(block.from, block.to) });
    byLength.set(block.from.length, list);
  }
  const lengths = [...byLength.keys()];
  for (const { route, pattern } of routePatterns) {
    for (const len of lengths) {
      if (len < pattern.minLength || len > pattern.maxLength) continue;
      for (const { block, patterns } of byLength.get(len) ?? []) {
        const { range } = block;
        // Where the route is used, is this block dialled as it is? Own ranges, flat ranges and prefixed numbers are.
        const visible = route.sites.length === 0 || block.prefix !== undefined || !block.private || route.sites.includes(range.siteId);
        if (!visible) continue;
        const hit = pattern.isLiteral
          ? block.from <= pattern.canonical && pattern.canonical <= block.to
          : patterns.some((b) => compareExtensions(pattern, b) <= 0 && patternsIntersect(pattern, b));
        if (hit) {
          out.error(
            'range-shadowed-by-pattern',
            `outbound route "${route.name}" pattern ${pattern.text} takes numbers of ${range.siteId}'s ${block.prefix !== undefined ? `prefixed range ${block.from}-${block.to}` : `range ${range.from}-${range.to}`}`,
            [{ type: 'outboundRoute', id: route.id }, { type: 'numberRange', id: range.id, siteId: range.siteId }],
            { from: block.from, to: block.to },
          );
        }
      }
    }
  }
}

/**
 * Inbound routes: their site, trunk and flow, and DIDs claimed by two sites. A route that leads to an extension
 * or a mailbox is returned by site instead: whether that number is assigned is a question for the site's numbers.
 */
function checkInbound(
  fed: Federation,
  sites: ReadonlyMap<string, unknown>,
  trunks: ReadonlyMap<string, { siteId: string }>,
  flows: ReadonlyMap<string, { siteId: string }>,
  plan: NumberingPlan,
  out: IssueList,
): Map<string, NumberDestination[]> {
  const destinations = new Map<string, NumberDestination[]>();
  const parsed: { id: string; siteId: string; trunkId?: string | undefined; pattern: ExtensionPattern }[] = [];
  for (const r of fed.inboundRoutes) {
    const ref: ObjectRef = { type: 'inboundRoute', id: r.id, siteId: r.siteId };
    if (!sites.has(r.siteId)) {
      out.error('dangling-reference', `inbound route ${r.id} names site "${r.siteId}", which does not exist`, [ref]);
      continue;
    }
    if (r.trunkId !== undefined && trunks.get(r.trunkId)?.siteId !== r.siteId) {
      out.error('dangling-reference', `inbound route ${r.id} names trunk "${r.trunkId}", which is not a trunk of ${r.siteId}`, [ref, { type: 'trunk', id: r.trunkId }]);
    }
    const d = r.destination;
    switch (d.type) {
      case 'flow':
        if (flows.get(d.flowId)?.siteId !== r.siteId) out.error('dangling-reference', `inbound route ${r.id} leads to call flow "${d.flowId}", which ${r.siteId} does not have`, [ref, { type: 'callFlow', id: d.flowId }]);
        break;
      case 'extension':
      case 'voicemail': {
        const number = d.type === 'extension' ? d.number : d.mailbox;
        pushTo(destinations, r.siteId, { route: r, number, target: plan.classify(r.siteId, number) });
        break;
      }
      case 'did-suffix':
      case 'hangup':
        break;
    }
    try {
      parsed.push({ id: r.id, siteId: r.siteId, trunkId: r.trunkId, pattern: parsePattern(r.did) });
      for (const h of patternHazards(r.did)) {
        if (h.severity === 'error') out.error('invalid-pattern', `inbound route ${r.id}: ${h.reason}`, [ref]);
        else out.warning('risky-pattern', `inbound route ${r.id}: ${h.reason}`, [ref]);
      }
    } catch (e) {
      if (!(e instanceof PatternSyntaxError)) throw e;
      out.error('invalid-pattern', `inbound route ${r.id}: ${e.message}`, [ref]);
    }
  }
  // A DID belongs to one site. Within a site, the same DID twice (same trunk) is ambiguous too; overlapping
  // patterns inside one site are ordinary (the more specific wins).
  const literals = new Map<string, (typeof parsed)[number]>();
  const patterns: (typeof parsed)[number][] = [];
  const clash = (a: (typeof parsed)[number], b: (typeof parsed)[number]): void =>
    out.error('did-owned-twice', `DID ${a.pattern.text} (${a.siteId}) and ${b.pattern.text} (${b.siteId}) claim the same numbers`, [
      { type: 'inboundRoute', id: a.id, siteId: a.siteId },
      { type: 'inboundRoute', id: b.id, siteId: b.siteId },
    ]);
  for (const p of parsed) {
    if (!p.pattern.isLiteral) {
      patterns.push(p);
      continue;
    }
    const prior = literals.get(p.pattern.canonical);
    if (prior !== undefined && (prior.siteId !== p.siteId || prior.trunkId === p.trunkId)) clash(prior, p);
    else literals.set(p.pattern.canonical, p);
  }
  // Only patterns whose literal heads agree can intersect: compare each pattern with those whose head is a
  // prefix of its own (looked up by head) and those whose head extends it (a run in head order).
  const head = (p: ExtensionPattern): string => {
    let h = '';
    for (const pos of p.positions) {
      if (pos.kind !== 'set' || pos.chars.length !== 1) break;
      h += pos.chars;
    }
    return h;
  };
  const withHead = patterns.map((p) => ({ p, head: head(p.pattern) })).sort((x, y) => (x.head < y.head ? -1 : x.head > y.head ? 1 : 0));
  const byHead = new Map<string, (typeof withHead)[number][]>();
  for (const w of withHead) {
    const list = byHead.get(w.head) ?? [];
    list.push(w);
    byHead.set(w.head, list);
  }
  const lengthsMeet = (a: ExtensionPattern, b: ExtensionPattern): boolean => a.minLength <= b.maxLength && b.minLength <= a.maxLength;
  const check = (a: (typeof parsed)[number], b: (typeof parsed)[number]): void => {
    if (!lengthsMeet(a.pattern, b.pattern)) return;
    const same = a.pattern.canonical === b.pattern.canonical && a.trunkId === b.trunkId;
    if ((a.siteId !== b.siteId && patternsIntersect(a.pattern, b.pattern)) || (a.siteId === b.siteId && same)) clash(a, b);
  };
  for (let i = 0; i < withHead.length; i++) {
    const a = withHead[i] as (typeof withHead)[number];
    for (let k = 0; k < a.head.length; k++) for (const b of byHead.get(a.head.slice(0, k)) ?? []) check(b.p, a.p);
    for (let j = i + 1; j < withHead.length && (withHead[j] as (typeof withHead)[number]).head.startsWith(a.head); j++) {
      check(a.p, (withHead[j] as (typeof withHead)[number]).p);
    }
  }
  for (const lit of literals.values()) {
    for (let k = 0; k <= lit.pattern.canonical.length; k++) {
      for (const b of byHead.get(lit.pattern.canonical.slice(0, k)) ?? []) {
        if (b.p.siteId !== lit.siteId && matchesPattern(b.p.pattern, lit.pattern.canonical)) clash(b.p, lit);
      }
    }
  }
  return destinations;
}

/**
 * Two sites with one tunnel address, or one WireGuard public key, break the mesh for every site: WireGuard routes
 * an address to one peer only and refuses a key twice. Addresses are compared as numbers (`fd77::1` = `fd77:0::1`).
 */
function checkTunnelIdentities(sites: readonly Site[], out: IssueList): void {
  const byAddress = new Map<string, Site>();
  const byKey = new Map<string, Site>();
  for (const s of sites) {
    const { vpnAddress, wireguardPublicKey } = s.network;
    const ip = vpnAddress === undefined ? undefined : parseIp(vpnAddress);
    if (ip !== undefined && vpnAddress !== undefined) {
      const key = `${ip.version}:${ip.value}`;
      const other = byAddress.get(key);
      if (other !== undefined) out.error('duplicate-vpn-address', `sites ${other.id} and ${s.id} both have tunnel address ${vpnAddress}`, [siteRef(other.id), siteRef(s.id)]);
      else byAddress.set(key, s);
    }
    if (wireguardPublicKey !== undefined) {
      const other = byKey.get(wireguardPublicKey);
      if (other !== undefined) out.error('duplicate-wireguard-key', `sites ${other.id} and ${s.id} have the same WireGuard public key`, [siteRef(other.id), siteRef(s.id)]);
      else byKey.set(wireguardPublicKey, s);
    }
  }
}
