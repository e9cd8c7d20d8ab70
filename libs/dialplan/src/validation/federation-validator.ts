import type { Federation, NumberRange, OutboundRoute } from '@fedpbx/contracts';
import { IntervalIndex, intersectSpan } from '../numbering/interval-index.js';
import { NumberingPlan } from '../numbering/numbering-plan.js';
import {
  compareExtensions,
  matchesPattern,
  parsePattern,
  patternsIntersect,
  PatternSyntaxError,
  rangeToPatterns,
  type ExtensionPattern,
} from '../patterns/index.js';
import type { FederationIssue, FederationIssueCode, ObjectRef, ObjectType, ValidationResult } from './federation-issues.js';

/** Flow validation is supplied by the flow engine; kept as a port so this file stays about the numbering plan. */
export type CallFlowValidator = (federation: Federation) => FederationIssue[];

export interface ValidateOptions {
  readonly validateCallFlows?: CallFlowValidator;
}

/**
 * Validates the whole federation, as every API write must be before it commits: overlapping ranges, prefixes,
 * ranges shadowed by outbound patterns, DIDs owned twice, references that point at nothing. Errors block a
 * write; warnings are shown to the admin.
 */
export function validateFederation(fed: Federation, options: ValidateOptions = {}): ValidationResult {
  const issues: FederationIssue[] = [];
  const add = (code: FederationIssueCode, severity: 'error' | 'warning', message: string, objects: ObjectRef[], span?: { from: string; to: string }): void => {
    issues.push(span === undefined ? { code, severity, message, objects } : { code, severity, message, objects, span });
  };
  const error = (code: FederationIssueCode, message: string, objects: ObjectRef[], span?: { from: string; to: string }): void =>
    add(code, 'error', message, objects, span);
  const warning = (code: FederationIssueCode, message: string, objects: ObjectRef[], span?: { from: string; to: string }): void =>
    add(code, 'warning', message, objects, span);

  checkDuplicateIds(fed, error);

  const sites = new Map(fed.sites.map((s) => [s.id, s]));
  const trunks = new Map(fed.trunks.map((t) => [t.id, t]));
  const flows = new Map(fed.callFlows.map((f) => [f.id, f]));
  const cos = new Map(fed.classesOfService.map((c) => [c.id, c]));
  const siteRef = (id: string): ObjectRef => ({ type: 'site', id });
  const rangeRef = (r: NumberRange): ObjectRef => ({ type: 'numberRange', id: r.id, siteId: r.siteId });
  const needSite = (siteId: string, owner: ObjectRef, what: string): boolean => {
    if (sites.has(siteId)) return true;
    error('dangling-reference', `${what} ${owner.id} names site "${siteId}", which does not exist`, [owner, siteRef(siteId)]);
    return false;
  };

  // --- sites and prefixes -------------------------------------------------------------------------------
  for (const s of fed.sites) {
    if (s.prefixRequired && s.prefix === undefined) {
      error('prefix-required-without-prefix', `site ${s.id} is marked prefix-required but has no prefix`, [siteRef(s.id)]);
    }
    if (s.defaultClassOfServiceId !== undefined && !cos.has(s.defaultClassOfServiceId)) {
      error('dangling-reference', `site ${s.id}'s default class of service "${s.defaultClassOfServiceId}" does not exist`, [siteRef(s.id)]);
    }
  }
  const prefixed = fed.sites.filter((s): s is typeof s & { prefix: string } => s.prefix !== undefined);
  for (let i = 0; i < prefixed.length; i++) {
    for (let j = i + 1; j < prefixed.length; j++) {
      const a = prefixed[i] as (typeof prefixed)[number];
      const b = prefixed[j] as (typeof prefixed)[number];
      if (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) {
        error(
          'prefix-conflict',
          a.prefix === b.prefix
            ? `sites ${a.id} and ${b.id} both use prefix ${a.prefix}`
            : `prefix ${a.prefix} of ${a.id} and prefix ${b.prefix} of ${b.id} start alike: a caller's digits cannot tell them apart`,
          [siteRef(a.id), siteRef(b.id)],
        );
      }
    }
  }
  if (fed.hubSiteId !== undefined) needSite(fed.hubSiteId, siteRef(fed.hubSiteId), 'the hub');

  // --- ranges ---------------------------------------------------------------------------------------------
  const ranges = fed.numberRanges.filter((r) => needSite(r.siteId, rangeRef(r), 'range'));
  const isPrivate = (siteId: string): boolean => sites.get(siteId)?.prefixRequired === true;
  const plan = new NumberingPlan(fed.sites, ranges);
  const span = (a: { from: string; to: string }, b: { from: string; to: string }) => intersectSpan(a, b) as { from: string; to: string };

  for (const [x, y] of new IntervalIndex(ranges.map((r) => ({ from: r.from, to: r.to, value: r }))).overlapping()) {
    const a = x.value;
    const b = y.value;
    const common = span(a, b);
    if (a.siteId === b.siteId) {
      error('range-overlap', `ranges ${a.from}-${a.to} and ${b.from}-${b.to} of ${a.siteId} overlap at ${common.from}-${common.to}`, [rangeRef(a), rangeRef(b)], common);
    } else if (!isPrivate(a.siteId) && !isPrivate(b.siteId)) {
      error(
        'range-overlap',
        `${a.siteId}'s range ${a.from}-${a.to} overlaps ${b.siteId}'s range ${b.from}-${b.to} at ${common.from}-${common.to}; renumber, or give one site a prefix and make it prefix-required`,
        [rangeRef(a), rangeRef(b), siteRef(a.siteId), siteRef(b.siteId)],
        common,
      );
    } else {
      // A private plan overlapping a flat one: inside the private site its own numbers win.
      const [priv, flat] = isPrivate(a.siteId) ? [a, b] : [b, a];
      if (!isPrivate(flat.siteId) && sites.get(flat.siteId)?.prefix === undefined) {
        warning(
          'range-hidden-from-site',
          `${flat.siteId}'s numbers ${common.from}-${common.to} cannot be reached from ${priv.siteId} (its own range hides them) and ${flat.siteId} has no prefix`,
          [rangeRef(flat), rangeRef(priv), siteRef(flat.siteId), siteRef(priv.siteId)],
          common,
        );
      }
    }
  }

  // prefix + number must not be anybody's plain number (or another prefixed number).
  interface DialBlock {
    readonly from: string;
    readonly to: string;
    readonly range: NumberRange;
    readonly prefix?: string;
    readonly private: boolean;
  }
  const blocks: DialBlock[] = ranges.map((r) => ({ from: r.from, to: r.to, range: r, private: isPrivate(r.siteId) }));
  for (const r of ranges) {
    const p = sites.get(r.siteId)?.prefix;
    if (p !== undefined && p.length + r.from.length <= 15) blocks.push({ from: p + r.from, to: p + r.to, range: r, prefix: p, private: false });
  }
  for (const [x, y] of new IntervalIndex(blocks.map((b) => ({ from: b.from, to: b.to, value: b }))).overlapping()) {
    if (x.value.prefix === undefined && y.value.prefix === undefined) continue;
    const common = span(x.value, y.value);
    const describe = (b: DialBlock) => (b.prefix !== undefined ? `${b.range.siteId}'s prefix ${b.prefix} + ${b.range.from}-${b.range.to}` : `${b.range.siteId}'s range ${b.range.from}-${b.range.to}`);
    error(
      'prefixed-number-collision',
      `${describe(x.value)} and ${describe(y.value)} are both dialled as ${common.from}-${common.to}`,
      [rangeRef(x.value.range), rangeRef(y.value.range), siteRef(x.value.range.siteId), siteRef(y.value.range.siteId)],
      common,
    );
  }

  // --- extensions and flow numbers -----------------------------------------------------------------------
  const numbersBySite = new Map<string, Map<string, ObjectRef>>();
  const claim = (siteId: string, number: string, ref: ObjectRef, what: string): void => {
    let own = numbersBySite.get(siteId);
    if (own === undefined) numbersBySite.set(siteId, (own = new Map()));
    const prior = own.get(number);
    if (prior !== undefined) {
      error(prior.type === 'extension' && ref.type === 'extension' ? 'duplicate-extension' : 'flow-number-conflict', `${number} at ${siteId} is used twice (${prior.type} ${prior.id} and ${what} ${ref.id})`, [prior, ref]);
      return;
    }
    own.set(number, ref);
    if (plan.rangeAt(siteId, number) === undefined) {
      error('extension-outside-range', `${what} ${number} is outside every range of ${siteId}`, [ref, siteRef(siteId)]);
    }
  };
  const aboveCeiling = new Map<string, string[]>();
  for (const e of fed.extensions) {
    const ref: ObjectRef = { type: 'extension', id: e.id, siteId: e.siteId };
    if (!needSite(e.siteId, ref, 'extension')) continue;
    claim(e.siteId, e.number, ref, 'extension');
    if (e.classOfServiceId !== undefined) {
      const c = cos.get(e.classOfServiceId);
      if (c === undefined) {
        error('dangling-reference', `extension ${e.number} at ${e.siteId} names class of service "${e.classOfServiceId}", which does not exist`, [ref, { type: 'classOfService', id: e.classOfServiceId }]);
      } else {
        const key = `${e.siteId}|${c.id}`;
        let above = aboveCeiling.get(key);
        if (above === undefined) {
          const ceiling = new Set(sites.get(e.siteId)?.classOfServiceCeiling ?? []);
          aboveCeiling.set(key, (above = c.allow.filter((k) => !ceiling.has(k))));
        }
        if (above.length > 0) {
          warning('class-of-service-above-ceiling', `extension ${e.number} at ${e.siteId} has class ${c.name}, above the site's ceiling (${above.join(', ')} will not be allowed)`, [ref, { type: 'classOfService', id: c.id }]);
        }
      }
    }
  }
  for (const f of fed.callFlows) {
    const ref: ObjectRef = { type: 'callFlow', id: f.id, siteId: f.siteId };
    if (needSite(f.siteId, ref, 'call flow') && f.number !== undefined) claim(f.siteId, f.number, ref, 'call flow');
  }

  // --- emergency numbers ------------------------------------------------------------------------------------
  for (const s of fed.sites) {
    for (const n of s.emergencyNumbers) {
      const used = numbersBySite.get(s.id)?.get(n);
      if (used !== undefined) {
        error('emergency-extension', `${n} is an emergency number at ${s.id}: ${used.type} ${used.id} can never be reached`, [used, siteRef(s.id)]);
      } else {
        const r = plan.rangeAt(s.id, n);
        if (r !== undefined) {
          warning('emergency-number-in-range', `emergency number ${n} lies in ${s.id}'s range ${r.from}-${r.to}: it always dials emergency services`, [rangeRef(r), siteRef(s.id)], { from: n, to: n });
        }
      }
    }
  }

  // --- trunks, links, routes -------------------------------------------------------------------------------
  for (const t of fed.trunks) needSite(t.siteId, { type: 'trunk', id: t.id, siteId: t.siteId }, 'trunk');
  const pairs = new Map<string, string>();
  const linked = new Set<string>();
  for (const l of fed.links) {
    const ref: ObjectRef = { type: 'link', id: l.id };
    if (!needSite(l.a, ref, 'link') || !needSite(l.b, ref, 'link')) continue;
    const key = [l.a, l.b].sort().join('|');
    const prior = pairs.get(key);
    if (prior !== undefined) error('duplicate-link', `links ${prior} and ${l.id} both join ${l.a} and ${l.b}`, [{ type: 'link', id: prior }, ref]);
    pairs.set(key, l.id);
    linked.add(l.a).add(l.b);
  }
  if (fed.sites.length > 1) {
    for (const s of fed.sites) {
      const viaHub = fed.hubSiteId !== undefined && s.id !== fed.hubSiteId && pairs.has([s.id, fed.hubSiteId].sort().join('|'));
      if (!linked.has(s.id) && !viaHub) warning('site-unreachable', `site ${s.id} has no inter-site link: other sites reach it only over the PSTN`, [siteRef(s.id)]);
    }
  }

  const routePatterns: { route: OutboundRoute; pattern: ExtensionPattern }[] = [];
  for (const r of fed.outboundRoutes) {
    const ref: ObjectRef = { type: 'outboundRoute', id: r.id };
    for (const s of r.sites) needSite(s, ref, 'outbound route');
    for (const p of r.trunks) {
      if (!trunks.has(p.trunkId)) error('dangling-reference', `outbound route "${r.name}" names trunk "${p.trunkId}", which does not exist`, [ref, { type: 'trunk', id: p.trunkId }]);
    }
    for (const text of r.patterns) {
      try {
        routePatterns.push({ route: r, pattern: parsePattern(text) });
      } catch (e) {
        if (!(e instanceof PatternSyntaxError)) throw e;
        error('invalid-pattern', `outbound route "${r.name}": ${e.message}`, [ref]);
      }
    }
  }
  checkShadowing(routePatterns, blocks, error);

  // --- inbound routes and DIDs -----------------------------------------------------------------------------
  checkInbound(fed, sites, trunks, flows, plan, numbersBySite, error);
  const didBlocks = ranges
    .filter((r): r is NumberRange & { pstnPrefix: string } => r.pstnPrefix !== undefined && r.pstnPrefix.replace('+', '').length + r.from.length <= 15)
    .map((r) => ({ from: r.pstnPrefix.replace('+', '') + r.from, to: r.pstnPrefix.replace('+', '') + r.to, value: r }));
  for (const [x, y] of new IntervalIndex(didBlocks).overlapping()) {
    const common = span(x, y);
    error('did-owned-twice', `PSTN numbers ${common.from}-${common.to} belong to both ${x.value.siteId}'s range ${x.value.from}-${x.value.to} and ${y.value.siteId}'s range ${y.value.from}-${y.value.to}`, [rangeRef(x.value), rangeRef(y.value)], common);
  }

  // --- call flows --------------------------------------------------------------------------------------------
  if (options.validateCallFlows !== undefined) issues.push(...options.validateCallFlows(fed));

  const errors = issues.filter((i) => i.severity === 'error');
  return { ok: errors.length === 0, errors, warnings: issues.filter((i) => i.severity === 'warning') };
}

type Report = (code: FederationIssueCode, message: string, objects: ObjectRef[], span?: { from: string; to: string }) => void;

function checkDuplicateIds(fed: Federation, error: Report): void {
  const collections: [ObjectType, readonly { id: string }[]][] = [
    ['site', fed.sites],
    ['numberRange', fed.numberRanges],
    ['extension', fed.extensions],
    ['trunk', fed.trunks],
    ['link', fed.links],
    ['outboundRoute', fed.outboundRoutes],
    ['inboundRoute', fed.inboundRoutes],
    ['callFlow', fed.callFlows],
    ['classOfService', fed.classesOfService],
  ];
  for (const [type, list] of collections) {
    const seen = new Set<string>();
    for (const o of list) {
      if (seen.has(o.id)) error('duplicate-id', `two ${type} objects share the id ${o.id}`, [{ type, id: o.id }]);
      seen.add(o.id);
    }
  }
  const trunkNames = new Set<string>();
  for (const t of fed.trunks) {
    const key = `${t.siteId}/${t.name}`;
    if (trunkNames.has(key)) error('duplicate-id', `two trunks at ${t.siteId} are named ${t.name}`, [{ type: 'trunk', id: t.id, siteId: t.siteId }]);
    trunkNames.add(key);
  }
}

/**
 * An outbound pattern that Asterisk would try before a range's own patterns (ext_cmp) and that matches some of
 * its numbers takes those numbers away from the range: `_10X` shadows 100-109 of 100-299, while `_X.` does not
 * (a literal digit sorts before `X`, and `.` after every set).
 */
function checkShadowing(
  routePatterns: readonly { route: OutboundRoute; pattern: ExtensionPattern }[],
  blocks: readonly { from: string; to: string; range: NumberRange; prefix?: string; private: boolean }[],
  error: Report,
): void {
  const byLength = new Map<number, { block: (typeof blocks)[number]; patterns: ExtensionPattern[] }[]>();
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
          error(
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

function checkInbound(
  fed: Federation,
  sites: ReadonlyMap<string, unknown>,
  trunks: ReadonlyMap<string, { siteId: string }>,
  flows: ReadonlyMap<string, { siteId: string }>,
  plan: NumberingPlan,
  numbersBySite: ReadonlyMap<string, ReadonlyMap<string, ObjectRef>>,
  error: Report,
): void {
  const parsed: { id: string; siteId: string; trunkId?: string | undefined; pattern: ExtensionPattern }[] = [];
  for (const r of fed.inboundRoutes) {
    const ref: ObjectRef = { type: 'inboundRoute', id: r.id, siteId: r.siteId };
    if (!sites.has(r.siteId)) {
      error('dangling-reference', `inbound route ${r.id} names site "${r.siteId}", which does not exist`, [ref]);
      continue;
    }
    if (r.trunkId !== undefined && trunks.get(r.trunkId)?.siteId !== r.siteId) {
      error('dangling-reference', `inbound route ${r.id} names trunk "${r.trunkId}", which is not a trunk of ${r.siteId}`, [ref, { type: 'trunk', id: r.trunkId }]);
    }
    const d = r.destination;
    switch (d.type) {
      case 'flow':
        if (flows.get(d.flowId)?.siteId !== r.siteId) error('dangling-reference', `inbound route ${r.id} leads to call flow "${d.flowId}", which ${r.siteId} does not have`, [ref, { type: 'callFlow', id: d.flowId }]);
        break;
      case 'extension':
      case 'voicemail': {
        const number = d.type === 'extension' ? d.number : d.mailbox;
        const target = plan.classify(r.siteId, number);
        const assigned = target?.kind === 'own' ? numbersBySite.get(r.siteId)?.has(target.number) === true : target?.kind === 'site';
        if (!assigned) error('dangling-reference', `inbound route ${r.id} leads to ${number}, which is not assigned`, [ref]);
        break;
      }
      case 'did-suffix':
      case 'hangup':
        break;
    }
    try {
      parsed.push({ id: r.id, siteId: r.siteId, trunkId: r.trunkId, pattern: parsePattern(r.did) });
    } catch (e) {
      if (!(e instanceof PatternSyntaxError)) throw e;
      error('invalid-pattern', `inbound route ${r.id}: ${e.message}`, [ref]);
    }
  }
  // A DID belongs to one site. Within a site, the same DID twice (same trunk) is ambiguous too; overlapping
  // patterns inside one site are ordinary (the more specific wins).
  const literals = new Map<string, (typeof parsed)[number]>();
  const patterns: (typeof parsed)[number][] = [];
  const clash = (a: (typeof parsed)[number], b: (typeof parsed)[number]): void =>
    error('did-owned-twice', `DID ${a.pattern.text} (${a.siteId}) and ${b.pattern.text} (${b.siteId}) claim the same numbers`, [
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
}
