import type {
  Attempt,
  AttemptOf,
  CallClass,
  Health,
  InboundRoute,
  NumberRange,
  OutboundRoute,
  RoutePlan,
  SiteConfig,
  SurvivabilityArea,
  SurvivabilityChange,
  SurvivabilityReport,
  SurvivabilityRow,
  SurvivabilityScenario,
  SurvivabilityScenarioKind,
  SurvivabilityStatus,
} from '@fedpbx/contracts';
import { matchesPattern, parsePattern } from '../patterns/index.js';
import { compileSite, routeAppliesTo, type CompiledSite } from '../routing/compiled-site.js';
import { resolveRoute, traceRoute } from '../routing/route-resolver.js';
import { flowDialTargets, siteAddresses } from '../validation/survivability-checks.js';

/**
 * One failure as the report plays it: the health the agent would see (what the routing engine is given, as the
 * tracer's "link down"), or the agent gone (the fallback dialplan alone).
 */
interface Scenario {
  readonly id: string;
  readonly kind: SurvivabilityScenarioKind | 'baseline';
  readonly subject?: string;
  readonly title: string;
  readonly assumes: string;
  readonly health: Health;
  readonly agentDown: boolean;
}

/** A row before it is compared with everything up: whether it works, and how. */
interface RawRow {
  readonly area: SurvivabilityArea;
  readonly key: string;
  readonly subject: string;
  readonly ok: boolean;
  readonly path: string;
  readonly reason: string;
  /** A status that holds whatever the baseline says (emergency with no path, CDRs, presence). */
  readonly forced?: SurvivabilityStatus;
  readonly ids?: Pick<SurvivabilityRow, 'siteId' | 'trunkId' | 'routeId' | 'flowId'>;
}

interface Context {
  readonly config: SiteConfig;
  readonly site: CompiledSite;
  /** The site as its best-allowed phone calls: the site's class-of-service ceiling, not one caller's class. */
  readonly probe: CompiledSite;
  /** Own trunks whose host is another site's PBX, by trunk id: they fail with that site. */
  readonly trunkDependsOn: ReadonlyMap<string, string>;
  /** A number each outbound route of the site takes, by route id (none: every number is taken by something else). */
  readonly outboundSamples: ReadonlyMap<string, string>;
  /** A DID each inbound route of the site takes, by route id. */
  readonly inboundSamples: ReadonlyMap<string, string>;
}

const STATUS_ORDER: Record<SurvivabilityStatus, number> = { 'red-flag': 0, degraded: 1, works: 2, 'not-available': 3 };
const AREA_ORDER: Record<SurvivabilityArea, number> = { emergency: 0, numbers: 1, outbound: 2, inbound: 3, 'call-flow': 4, cdrs: 5, presence: 6 };

/**
 * What the site can still do in each failure (#19 §2): centre/NATS down, each link down, all links down, each
 * trunk it uses down, the agent down. Pure: the site's snapshot config in, the report out. Every call decision
 * is the routing engine's own (`resolveRoute` with the scenario's link and trunk health), so the report says what
 * the agent would do; with the agent down, what the fallback dialplan (render/extensions-renderer) does.
 */
export function survivabilityReport(config: SiteConfig, revision: number, compiled?: CompiledSite): SurvivabilityReport {
  const site = compiled ?? compileSite(config, revision);
  const probe: CompiledSite = { ...site, defaultClasses: new Set<CallClass>(config.site.classOfServiceCeiling) };
  const outboundSamples = new Map<string, string>();
  for (const route of config.outboundRoutes) {
    const sample = routeAppliesTo(route, site.siteId) ? outboundSample(probe, route) : undefined;
    if (sample !== undefined) outboundSamples.set(route.id, sample);
  }
  const inboundSamples = new Map<string, string>();
  const ctx: Context = { config, site, probe, trunkDependsOn: trunkDependencies(config), outboundSamples, inboundSamples };
  for (const route of config.inboundRoutes) {
    const sample = route.siteId === site.siteId ? inboundSample(ctx, route) : undefined;
    if (sample !== undefined) inboundSamples.set(route.id, sample);
  }
  const baseline = rowsOf(ctx, {
    id: 'baseline',
    kind: 'baseline',
    title: 'Everything up',
    assumes: '',
    health: { links: {}, trunks: {} },
    agentDown: false,
  });
  const byKey = new Map(baseline.map((r) => [`${r.area}|${r.key}`, r]));
  const scenarios = scenariosOf(ctx).map((s): SurvivabilityScenario => {
    const rows = rowsOf(ctx, s)
      .map((r) => finishRow(r, byKey.get(`${r.area}|${r.key}`)))
      .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || AREA_ORDER[a.area] - AREA_ORDER[b.area]);
    const scenario = {
      id: s.id,
      kind: s.kind as SurvivabilityScenarioKind,
      title: s.title,
      assumes: s.assumes,
      redFlags: rows.filter((r) => r.status === 'red-flag').length,
      rows,
    };
    return s.subject !== undefined ? { ...scenario, subject: s.subject } : scenario;
  });
  return { siteId: site.siteId, revision, redFlags: scenarios.reduce((n, s) => n + s.redFlags, 0), scenarios };
}

/** The rows of `after` that differ from `before` (a pending write's "what changes"), scenario by scenario. */
export function survivabilityChanges(before: SurvivabilityReport | undefined, after: SurvivabilityReport | undefined): SurvivabilityChange[] {
  const siteId = after?.siteId ?? before?.siteId ?? '';
  const rowsOf = (report: SurvivabilityReport | undefined) => {
    const map = new Map<string, { scenario: SurvivabilityScenario; row: SurvivabilityRow }>();
    for (const scenario of report?.scenarios ?? []) for (const row of scenario.rows) map.set(`${scenario.id}|${row.area}|${row.key}`, { scenario, row });
    return map;
  };
  const old = rowsOf(before);
  const next = rowsOf(after);
  const changes: SurvivabilityChange[] = [];
  for (const [key, n] of next) {
    const o = old.get(key);
    if (o !== undefined && o.row.status === n.row.status && o.row.path === n.row.path) continue;
    changes.push({
      siteId,
      scenarioId: n.scenario.id,
      scenarioTitle: n.scenario.title,
      area: n.row.area,
      subject: n.row.subject,
      ...(o !== undefined ? { before: { status: o.row.status, path: o.row.path } } : {}),
      after: { status: n.row.status, path: n.row.path, reason: n.row.reason },
    });
  }
  for (const [key, o] of old) {
    if (next.has(key)) continue;
    changes.push({ siteId, scenarioId: o.scenario.id, scenarioTitle: o.scenario.title, area: o.row.area, subject: o.row.subject, before: { status: o.row.status, path: o.row.path } });
  }
  // Red flags that appear first: they are what a reviewer of the change must see.
  const weight = (c: SurvivabilityChange): number => (c.after?.status === 'red-flag' ? 0 : c.before?.status === 'red-flag' ? 1 : 2);
  return changes.sort((a, b) => weight(a) - weight(b));
}

function trunkDependencies(config: SiteConfig): Map<string, string> {
  const addresses = siteAddresses(
    config.federation.sites.map((s) => ({ id: s.id, network: { sipPort: 0, ...(s.network ?? {}) } })),
  );
  const out = new Map<string, string>();
  for (const t of config.trunks) {
    const owner = addresses.get(t.host.toLowerCase());
    if (owner !== undefined && owner !== config.site.id) out.set(t.id, owner);
  }
  return out;
}

function scenariosOf(ctx: Context): Scenario[] {
  const { site } = ctx;
  const none: Health = { links: {}, trunks: {} };
  const peers = [...site.links.keys()].sort();
  const withDependents = (links: Record<string, 'down'>): Health => {
    // A trunk that is another site's PBX fails with the link to that site.
    const trunks: Record<string, 'down'> = {};
    for (const [trunkId, owner] of ctx.trunkDependsOn) if (links[owner] === 'down') trunks[trunkId] = 'down';
    return { links, trunks };
  };
  const scenarios: Scenario[] = [
    {
      id: 'centre-down',
      kind: 'centre-down',
      title: 'Centre / NATS down',
      assumes: 'the controller and the message bus are unreachable; the agent routes from its last signed snapshot; links and trunks up',
      health: none,
      agentDown: false,
    },
  ];
  for (const peer of peers) {
    scenarios.push({
      id: `link-down:${peer}`,
      kind: 'link-down',
      subject: peer,
      title: `Link to ${peer} down`,
      assumes: `the inter-site link between ${site.siteId} and ${peer} is down; everything else up`,
      health: withDependents({ [peer]: 'down' }),
      agentDown: false,
    });
  }
  if (peers.length > 1) {
    scenarios.push({
      id: 'all-links-down',
      kind: 'all-links-down',
      title: 'All links down (WAN)',
      assumes: `every inter-site link of ${site.siteId} is down; its own trunks up (a carrier access of their own)`,
      health: withDependents(Object.fromEntries(peers.map((p) => [p, 'down' as const]))),
      agentDown: false,
    });
  }
  const trunks = [...site.trunks.values()].sort((a, b) => Number(b.local) - Number(a.local) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const t of trunks) {
    scenarios.push({
      id: `trunk-down:${t.id}`,
      kind: 'trunk-down',
      subject: t.id,
      title: t.local ? `Trunk ${t.name} down` : `Trunk ${t.name} at ${t.siteId} down`,
      assumes: `trunk ${t.name}${t.local ? '' : ` (${t.siteId}'s, used for tail-end hop-off)`} is down; links and other trunks up`,
      health: { links: {}, trunks: { [t.id]: 'down' } },
      agentDown: false,
    });
  }
  scenarios.push({
    id: 'agent-down',
    kind: 'agent-down',
    title: 'Agent down (fallback dialplan only)',
    assumes: 'the fedpbx agent does not answer; Asterisk runs the generated fallback dialplan; links and trunks up',
    health: none,
    agentDown: true,
  });
  return scenarios;
}

function rowsOf(ctx: Context, s: Scenario): RawRow[] {
  return [
    ...emergencyRows(ctx, s),
    ...numberRows(ctx, s),
    ...outboundRows(ctx, s),
    ...inboundRows(ctx, s),
    ...flowRows(ctx, s),
    cdrRow(s),
    presenceRow(ctx, s),
  ];
}

function finishRow(r: RawRow, base: RawRow | undefined): SurvivabilityRow {
  let status: SurvivabilityStatus;
  if (r.forced !== undefined) status = r.forced;
  else if (base !== undefined && !base.ok) status = 'not-available';
  else if (!r.ok) status = 'red-flag';
  else status = base === undefined || base.path === r.path ? 'works' : 'degraded';
  const reason = status === 'not-available' && base !== undefined ? `not even with everything up: ${base.reason}` : r.reason;
  return { area: r.area, key: r.key, subject: r.subject, status, path: r.ok ? r.path : '', reason, ...(r.ids ?? {}) };
}

// --- emergency -------------------------------------------------------------------------------------------------

function emergencyRows(ctx: Context, s: Scenario): RawRow[] {
  const { site, probe } = ctx;
  return [...site.emergencyNumbers].map((number): RawRow => {
    const base = { area: 'emergency' as const, key: number, subject: `emergency ${number}` };
    if (site.emergencyTrunks.length === 0) {
      return { ...base, ok: false, path: '', reason: `${site.siteId} has no emergency-capable trunk of its own: emergency calls have no path`, forced: 'red-flag' };
    }
    if (s.agentDown) {
      // The fallback's literal emergency extension dials every emergency trunk in turn (sorted by endpoint name).
      const names = site.emergencyTrunks.map((t) => t.name).sort();
      return {
        ...base,
        ok: true,
        path: `fallback dialplan: ${names.map((n) => `trunk ${n}`).join(', then ')}`,
        reason: 'the emergency number is a literal extension of the fallback dialplan: it dials the site\'s emergency trunks without the agent',
      };
    }
    const plan = resolveRoute(probe, { entry: 'internal', caller: '', dialled: number, health: s.health });
    if (plan.outcome === 'denied') return { ...base, ok: false, path: '', reason: plan.deny?.message ?? 'denied', forced: 'red-flag' };
    const trunks = plan.attempts.filter((a): a is AttemptOf<'trunk'> => a.kind === 'trunk');
    const up = trunks.filter((a) => s.health.trunks[a.trunkId] !== 'down');
    if (up.length === 0) {
      const through = trunks.map((a) => trunkName(ctx, a.trunkId)).join(', ');
      const dependent = trunks.map((a) => ctx.trunkDependsOn.get(a.trunkId)).filter((x): x is string => x !== undefined);
      return {
        ...base,
        ok: false,
        path: '',
        reason:
          dependent.length > 0
            ? `every emergency trunk (${through}) is down: they point at ${[...new Set(dependent)].join(', ')}, which is unreachable (still tried, last)`
            : `every emergency trunk (${through}) is down (still tried, last)`,
        forced: 'red-flag',
        ids: { trunkId: trunks[0]?.trunkId ?? '' },
      };
    }
    return {
      ...base,
      ok: true,
      path: up.map((a) => `trunk ${trunkName(ctx, a.trunkId)}`).join(', then '),
      reason: 'emergency calls leave through the site\'s own emergency trunks, whatever the class of service',
      ids: { trunkId: up[0]?.trunkId ?? '' },
    };
  });
}

// --- other sites' numbers -------------------------------------------------------------------------------------

function numberRows(ctx: Context, s: Scenario): RawRow[] {
  const { site, probe } = ctx;
  const rows: RawRow[] = [];
  const ranges = [...ctx.config.federation.numberRanges].sort((a, b) => Number(b.siteId === site.siteId) - Number(a.siteId === site.siteId));
  for (const r of ranges) {
    const base = { area: 'numbers' as const, key: r.id, ids: { siteId: r.siteId } };
    if (r.siteId === site.siteId) {
      rows.push({
        ...base,
        subject: `own ${r.from}-${r.to}`,
        ok: true,
        path: s.agentDown ? 'own phones (fallback dialplan)' : 'own phones',
        reason: 'this site\'s own phones ring directly, whatever else fails',
      });
      continue;
    }
    const dial = site.plan.dialStringFrom(site.siteId, r.siteId, r.from);
    const target = dial === undefined ? undefined : site.plan.classify(site.siteId, dial);
    const dialledRange = dial === undefined || dial === r.from ? `${r.from}-${r.to}` : `${dial}-${dial.slice(0, dial.length - r.to.length)}${r.to}`;
    const subject = `${r.siteId} ${dialledRange}`;
    if (dial === undefined || target?.kind !== 'site' || target.range.id !== r.id) {
      rows.push({ ...base, subject, ok: false, path: '', reason: `${site.siteId} cannot dial ${r.siteId}'s ${r.from}-${r.to} (its own numbers hide them and ${r.siteId} has no prefix)` });
      continue;
    }
    const plan = resolveRoute(probe, { entry: 'internal', caller: '', dialled: dial, health: s.agentDown ? { links: {}, trunks: {} } : s.health });
    rows.push({ ...base, subject, ...reachOf(ctx, s, plan, r) });
  }
  return rows;
}

/** How a call to another site's number goes: over the link (direct or via the hub) or to its DID over the PSTN. */
function reachOf(ctx: Context, s: Scenario, plan: RoutePlan, range: NumberRange | undefined): Pick<RawRow, 'ok' | 'path' | 'reason'> {
  if (plan.outcome === 'denied') return { ok: false, path: '', reason: plan.deny?.message ?? 'denied' };
  // The fallback dialplan dials other sites over their links only (a static dialplan has no link health).
  const attempts = s.agentDown ? plan.attempts.filter((a) => a.kind !== 'trunk') : plan.attempts;
  const first = attempts[0];
  if (first === undefined) {
    return { ok: false, path: '', reason: 'the fallback dialplan reaches other sites over their links only, and has no link to this one' };
  }
  return { ok: true, path: describeAttempt(ctx, first, range), reason: reasonOf(ctx, s, first, attempts) };
}

function describeAttempt(ctx: Context, a: Attempt, range: NumberRange | undefined): string {
  switch (a.kind) {
    case 'endpoint':
      return `phone ${a.number}`;
    case 'site':
      return a.via === a.siteId ? `direct over the link to ${a.siteId}` : `via hub ${a.via}`;
    case 'trunk': {
      const where = a.trunkSiteId === ctx.site.siteId ? `trunk ${trunkName(ctx, a.trunkId)}` : `trunk ${trunkName(ctx, a.trunkId)} at ${a.trunkSiteId}`;
      if (a.reason === 'link-down-fallback') {
        const main = range !== undefined && range.pstnPrefix === undefined ? ' (the site\'s main number, not the extension)' : '';
        return `PSTN ${a.number} via ${where}${main}`;
      }
      return where;
    }
    case 'flow':
      return `call flow ${ctx.site.flows.get(a.flowId)?.name ?? a.flowId}`;
    case 'voicemail':
      return `voicemail ${a.mailbox}`;
  }
}

function reasonOf(ctx: Context, s: Scenario, first: Attempt, attempts: readonly Attempt[]): string {
  if (s.agentDown) return 'the fallback dialplan dials other sites over their links, as the agent would with every link up';
  if (first.kind === 'trunk' && first.reason === 'link-down-fallback') return `the link is down or missing: the agent calls the number's PSTN DID instead`;
  if (first.kind === 'site') {
    const pstn = attempts.find((a): a is AttemptOf<'trunk'> => a.kind === 'trunk');
    return pstn !== undefined ? `over the link; if it fails, PSTN ${pstn.number} via trunk ${trunkName(ctx, pstn.trunkId)}` : 'over the link; no PSTN fallback (no DID, no route, or its trunks are down)';
  }
  switch (first.kind) {
    case 'endpoint':
      return 'rings the phone here';
    case 'flow':
      return 'the agent runs the call flow';
    case 'voicemail':
      return 'the mailbox here';
    case 'trunk':
      return 'out through the trunk';
  }
}

// --- outbound routes -------------------------------------------------------------------------------------------

function outboundRows(ctx: Context, s: Scenario): RawRow[] {
  const { site, probe, config } = ctx;
  const rows: RawRow[] = [];
  for (const route of config.outboundRoutes) {
    if (!routeAppliesTo(route, site.siteId)) continue;
    const base = { area: 'outbound' as const, key: route.id, subject: `${route.name} (${route.callClass})`, ids: { routeId: route.id } };
    if (s.agentDown) {
      rows.push({ ...base, ok: false, path: '', reason: 'the fallback dialplan has no outbound routes: external numbers fail until the agent is back (emergency numbers still go out)' });
      continue;
    }
    const sample = ctx.outboundSamples.get(route.id);
    if (sample === undefined) {
      rows.push({ ...base, ok: false, path: '', reason: `every number of "${route.name}" is taken by an internal range, an emergency number or a more specific route` });
      continue;
    }
    const { plan } = traceRoute(probe, { entry: 'internal', caller: '', dialled: sample, health: s.health });
    if (plan.outcome === 'denied') {
      const reason = plan.deny?.code === 'class-of-service' ? `${route.callClass} calls are above ${site.siteId}'s class-of-service ceiling` : `${sample}: ${plan.deny?.message ?? 'denied'}`;
      rows.push({ ...base, ok: false, path: '', reason });
      continue;
    }
    const first = plan.attempts[0] as Attempt;
    const path = describeAttempt(ctx, first, undefined);
    const via = first.kind === 'trunk' && first.via !== undefined ? ` (over the link${first.via !== first.trunkSiteId ? ` via hub ${first.via}` : ` to ${first.via}`}; tail-end hop-off)` : '';
    rows.push({ ...base, ok: true, path: `${path}${via}`, reason: `${sample} leaves through ${path}`, ids: { routeId: route.id, ...(first.kind === 'trunk' ? { trunkId: first.trunkId } : {}) } });
  }
  return rows;
}

/** A number of one of the route's patterns that the site routes with this very route (not a more specific one). */
function outboundSample(site: CompiledSite, route: OutboundRoute): string | undefined {
  for (const pattern of route.patterns) {
    for (const sample of patternSamples(pattern)) {
      if (site.emergencyNumbers.has(sample) || site.plan.classify(site.siteId, sample) !== undefined) continue;
      if (site.outbound.bestMatch(sample)?.value.id === route.id) return sample;
    }
  }
  return undefined;
}

/** How many of a site's extensions are tried to find a DID that a suffix route leads to a real phone with. */
const SUFFIX_SAMPLE_LIMIT = 2000;

/**
 * A DID this inbound route takes (not a more specific route of the site): for a DID-suffix route, one that ends in
 * an extension of the site when there is one, so the report follows a call to a phone, not to an unassigned number.
 */
function inboundSample(ctx: Context, route: InboundRoute): string | undefined {
  const takes = (did: string): boolean => ctx.site.inbound.allMatches(did).find((m) => m.value.trunkId === undefined || m.value.trunkId === route.trunkId)?.value.id === route.id;
  const samples = patternSamples(route.did);
  const destination = route.destination;
  if (destination.type === 'did-suffix') {
    const head = samples[0];
    const pattern = parsePattern(route.did);
    if (head !== undefined && head.length > destination.digits) {
      let tried = 0;
      for (const e of ctx.config.extensions) {
        if (e.siteId !== ctx.site.siteId || e.number.length !== destination.digits) continue;
        const did = head.slice(0, head.length - destination.digits) + e.number;
        if (matchesPattern(pattern, did) && takes(did)) return did;
        if (++tried >= SUFFIX_SAMPLE_LIMIT) break;
      }
    }
  }
  return samples.find(takes);
}

/**
 * A few numbers a pattern matches: each class's lowest digit, its highest, and the lowest with the last position's
 * highest (`.` as seven zeros, `!` as none). A literal is itself.
 */
export function patternSamples(text: string): string[] {
  let pattern;
  try {
    pattern = parsePattern(text);
  } catch {
    return [];
  }
  if (pattern.isLiteral) return /^[0-9*#+]{1,32}$/.test(text) ? [text] : [];
  const sets: string[] = [];
  let tail = '';
  for (const p of pattern.positions) {
    if (p.kind === 'one-or-more') {
      tail = '0000000';
      break;
    }
    if (p.kind === 'zero-or-more') break;
    const digits = [...p.chars].filter((c) => c >= '0' && c <= '9');
    sets.push(digits.length > 0 ? digits.join('') : p.chars);
  }
  const low = sets.map((c) => c[0]).join('') + tail;
  const high = sets.map((c) => c[c.length - 1]).join('') + tail;
  const mixed = sets.map((c, i) => (i === sets.length - 1 ? c[c.length - 1] : c[0])).join('') + tail;
  return [...new Set([low, high, mixed])].filter((n) => /^[0-9*#]{1,32}$/.test(n));
}

// --- inbound (DIDs) --------------------------------------------------------------------------------------------

function inboundRows(ctx: Context, s: Scenario): RawRow[] {
  const { site, probe, config } = ctx;
  const own = config.trunks.filter((t) => t.siteId === site.siteId);
  const rows: RawRow[] = [];
  for (const route of config.inboundRoutes) {
    if (route.siteId !== site.siteId) continue;
    const base = { area: 'inbound' as const, key: route.id, subject: `DID ${route.did}` };
    const did = ctx.inboundSamples.get(route.id);
    if (did === undefined) continue;
    const trunkDown = (id: string): boolean => s.health.trunks[id] === 'down';
    if (route.trunkId !== undefined && trunkDown(route.trunkId)) {
      rows.push({ ...base, ok: false, path: '', reason: `its calls come in on trunk ${trunkName(ctx, route.trunkId)}, which is down`, ids: { trunkId: route.trunkId } });
      continue;
    }
    if (route.trunkId === undefined && own.length > 0 && own.every((t) => trunkDown(t.id))) {
      rows.push({ ...base, ok: false, path: '', reason: `every trunk of ${site.siteId} is down: no call comes in` });
      continue;
    }
    if (s.agentDown) {
      rows.push({ ...base, ...fallbackInbound(ctx, s, route, did) });
      continue;
    }
    const plan = resolveRoute(probe, { entry: 'from-pstn', caller: '', dialled: did, trunkId: route.trunkId, health: s.health });
    rows.push({ ...base, ...reachOf(ctx, s, plan, undefined), ...flowIds(plan) });
  }
  return rows;
}

function flowIds(plan: RoutePlan): Pick<RawRow, 'ids'> {
  const first = plan.attempts[0];
  return first?.kind === 'flow' ? { ids: { flowId: first.flowId } } : {};
}

/** The fallback dialplan's `fedpbx-fallback-pstn`: extensions and DID suffixes over the links, mailboxes; no flows. */
function fallbackInbound(ctx: Context, s: Scenario, route: InboundRoute, did: string): Pick<RawRow, 'ok' | 'path' | 'reason'> {
  switch (route.destination.type) {
    case 'flow':
      return { ok: false, path: '', reason: 'call flows run in the agent: the fallback dialplan refuses calls to them' };
    case 'hangup':
      return { ok: false, path: '', reason: 'the route hangs up' };
    case 'voicemail':
      return { ok: true, path: `voicemail ${route.destination.mailbox}`, reason: 'the fallback dialplan leaves the caller in the mailbox' };
    case 'extension':
    case 'did-suffix': {
      const plan = resolveRoute(ctx.probe, { entry: 'from-pstn', caller: '', dialled: did, trunkId: route.trunkId, health: { links: {}, trunks: {} } });
      return reachOf(ctx, s, plan, undefined);
    }
  }
}

// --- call flows ------------------------------------------------------------------------------------------------

function flowRows(ctx: Context, s: Scenario): RawRow[] {
  const { site, config } = ctx;
  const rows: RawRow[] = [];
  for (const flow of config.callFlows) {
    if (flow.siteId !== site.siteId) continue;
    const base = { area: 'call-flow' as const, key: flow.id, subject: flow.name, ids: { flowId: flow.id } };
    if (s.agentDown) {
      rows.push({ ...base, ok: false, path: '', reason: 'call flows run in the agent: the fallback dialplan refuses their number and their DIDs' });
      continue;
    }
    const targets = flowDialTargets(flow);
    if (targets.length === 0) {
      rows.push({ ...base, ok: true, path: 'rings no one (menus, messages, mailboxes only)', reason: 'nothing it does leaves the site' });
      continue;
    }
    const parts: string[] = [];
    const lost: string[] = [];
    for (const number of targets) {
      // As the agent's flow runner resolves a flow's targets: the internal entry, no caller, first dialable attempt.
      const plan = resolveRoute(site, { entry: 'internal', caller: '', dialled: number, health: s.health });
      const first = plan.attempts.find((a) => a.kind === 'endpoint' || a.kind === 'site' || a.kind === 'trunk');
      if (first === undefined) lost.push(`${number} (${plan.deny?.message ?? 'no route'})`);
      else parts.push(`${number}: ${describeAttempt(ctx, first, undefined)}`);
    }
    rows.push({
      ...base,
      ok: lost.length === 0,
      path: parts.join('; '),
      reason: lost.length === 0 ? 'every number it rings is reachable' : `depends on something unreachable: ${lost.join('; ')}`,
    });
  }
  return rows;
}

// --- CDRs and presence -----------------------------------------------------------------------------------------

function cdrRow(s: Scenario): RawRow {
  const base = { area: 'cdrs' as const, key: 'cdrs', subject: 'call records' };
  switch (s.kind) {
    case 'centre-down':
      return { ...base, ok: true, path: 'kept in the agent\'s outbox', reason: 'kept locally and delivered exactly once when the bus is back', forced: 'degraded' };
    case 'agent-down':
      return { ...base, ok: true, path: 'Asterisk\'s CDR file', reason: 'Asterisk keeps writing its cdr_custom file; the agent reads it when it starts again and delivers them', forced: 'degraded' };
    case 'baseline':
    case 'link-down':
    case 'all-links-down':
    case 'trunk-down':
      return { ...base, ok: true, path: 'delivered to the centre', reason: 'records travel over the bus, not over inter-site links or trunks', forced: 'works' };
  }
}

function presenceRow(ctx: Context, s: Scenario): RawRow {
  const base = { area: 'presence' as const, key: 'presence', subject: 'busy lamps' };
  // The lamps of other sites' phones shown here (the site's presence setting, as the snapshot lists them).
  const watched = new Map((ctx.config.remotePresence ?? []).filter((r) => r.numbers.length > 0).map((r) => [r.siteId, r.numbers.length]));
  const shares = (ctx.config.site.presence?.share ?? 'all') !== 'none';
  const lamps = (sites: readonly string[]): string => sites.map((id) => `${id}'s ${watched.get(id) ?? 0}`).join(', ');
  const local = 'local lamps keep working (Asterisk\'s own hints)';
  /** `sites`' lamps go UNAVAILABLE until `until`; `none` says which lamps there are none of here. */
  const lost = (sites: readonly string[], until: string, none: string): RawRow =>
    sites.length === 0
      ? { ...base, ok: true, path: 'local lamps', reason: `${local}; no lamp here shows ${none}`, forced: 'works' }
      : { ...base, ok: true, path: `local lamps; ${lamps(sites)} remote lamps UNAVAILABLE`, reason: `lamps of ${sites.join(', ')} show UNAVAILABLE until ${until} (then they resync); ${local}`, forced: 'degraded' };
  switch (s.kind) {
    case 'centre-down':
      // Presence travels over the bus: with it gone, no state comes in from any site.
      return lost([...watched.keys()], 'the bus is back', 'another site');
    case 'link-down':
      return lost(watched.has(s.subject ?? '') ? [s.subject ?? ''] : [], `${s.subject ?? 'the site'} is reachable again`, s.subject ?? 'that site');
    case 'all-links-down':
      return lost([...watched.keys()], 'they are reachable again', 'another site');
    case 'agent-down': {
      const effects = [
        ...(shares ? [`other sites see ${ctx.site.siteId}'s lamps as UNAVAILABLE`] : []),
        ...(watched.size > 0 ? [`its ${[...watched.values()].reduce((a, b) => a + b, 0)} lamps of other sites stop updating`] : []),
      ];
      return effects.length === 0
        ? { ...base, ok: true, path: 'local lamps', reason: local, forced: 'works' }
        : { ...base, ok: true, path: 'local lamps', reason: `${local}; ${effects.join('; ')}`, forced: 'degraded' };
    }
    case 'baseline':
    case 'trunk-down':
      return { ...base, ok: true, path: watched.size > 0 ? 'local and remote lamps' : 'local lamps', reason: 'presence does not use trunks', forced: 'works' };
  }
}

function trunkName(ctx: Context, trunkId: string): string {
  return ctx.site.trunks.get(trunkId)?.name ?? trunkId;
}

/** The report as text, one table per scenario, red flags first (the agent CLI prints this). */
export function formatSurvivabilityReport(report: SurvivabilityReport): string {
  const lines = [`${report.siteId} at revision ${report.revision}: ${report.redFlags} red flag(s)`];
  for (const s of report.scenarios) {
    lines.push('', `== ${s.title}: ${s.redFlags} red flag(s)`, `   assumes: ${s.assumes}`);
    for (const r of s.rows) lines.push(formatSurvivabilityRow(r));
  }
  return `${lines.join('\n')}\n`;
}

export function formatSurvivabilityRow(r: SurvivabilityRow): string {
  const status = r.status === 'red-flag' ? 'RED FLAG' : r.status;
  return `   ${status.padEnd(13)} ${r.area.padEnd(9)} ${r.subject} -> ${r.path === '' ? '-' : r.path}: ${r.reason}`;
}
