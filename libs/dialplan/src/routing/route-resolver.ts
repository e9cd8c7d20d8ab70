import type {
  Attempt,
  AttemptOf,
  CallClass,
  DenyCode,
  Health,
  NumberRange,
  OutboundRoute,
  RouteEntry,
  RouteKind,
  RoutePlan,
  TraceResult,
  TraceStep,
  TrunkPreference,
} from '@fedpbx/contracts';
import { routeAppliesTo, type CompiledSite, type TrunkRef } from './compiled-site.js';

/** One call as the agent hands it over: what Asterisk told it, and what it knows of the world right now. */
export interface RouteRequest {
  readonly entry: RouteEntry;
  /** Caller number as Asterisk reported it (`agi_callerid`; may be empty or `unknown`). */
  readonly caller: string;
  /** For `from-sites`: the site the call came from (derived from the inter-site endpoint, never from caller data). */
  readonly fromSiteId?: string | undefined;
  /**
   * For `from-sites`: the site where the call started, when the calling site said so (SIP header X-Fedpbx-Call,
   * validated by the agent against the known sites); `fromSiteId` otherwise. Differs only through a hub.
   */
  readonly originSiteId?: string | undefined;
  /** What was dialled (`agi_extension`): the number, or the DID for `from-pstn`. */
  readonly dialled: string;
  /** For `from-pstn`: the trunk the call came in on, when known. */
  readonly trunkId?: string | undefined;
  readonly health?: Health | undefined;
}

/** Receives the explanation of a decision. Absent on the hot path: no step text is even built then. */
export interface Tracer {
  step(step: string, detail: string, data?: Record<string, unknown>): void;
}

/** Ring timeout for calls out to the PSTN. */
export const PSTN_RING_TIMEOUT_SEC = 60;
const NO_HEALTH: Health = { links: {}, trunks: {} };

/**
 * Decides how a call is routed: an ordered plan of attempts, or a denial with its reason. Pure: the snapshot,
 * the request (with the health of links and trunks) in, the plan out. The agent walks the attempts in order,
 * moving to the next one only when an attempt fails as a route (CHANUNAVAIL, CONGESTION), never when the
 * callee is busy or does not answer.
 */
export function resolveRoute(site: CompiledSite, req: RouteRequest, t?: Tracer): RoutePlan {
  const dialled = req.dialled.indexOf('-') < 0 ? req.dialled : req.dialled.replaceAll('-', '');
  const health = req.health ?? NO_HEALTH;
  t?.step('input', `${req.entry} call at ${site.siteId} from ${req.caller || 'unknown'} to ${dialled}`, {
    entry: req.entry,
    site: site.siteId,
    revision: site.revision,
    caller: req.caller,
    dialled,
    ...(req.fromSiteId !== undefined ? { fromSite: req.fromSiteId } : {}),
  });
  if (!isDiallable(dialled)) {
    return deny(site, 'invalid-number', `"${dialled}" is not a dialable number`, 'internal', t);
  }
  switch (req.entry) {
    case 'internal':
      return resolveInternal(site, req.caller, dialled, health, t);
    case 'from-sites': {
      const origin = req.originSiteId !== undefined && site.directory.has(req.originSiteId) ? req.originSiteId : req.fromSiteId;
      const plan = resolveFromSite(site, req.fromSiteId, dialled, health, t);
      // The call started at the calling site (or beyond it, through a hub), not here.
      const tags = origin === undefined ? plan.tags : { ...plan.tags, originSiteId: origin };
      const callerId = plan.outcome === 'route' && endsHere(plan) && origin !== undefined ? dialBackNumber(site, origin, req.caller, t) : undefined;
      return callerId === undefined ? { ...plan, tags } : { ...plan, tags, callerId };
    }
    case 'from-pstn':
      return resolveFromPstn(site, dialled, req.trunkId, health, t);
  }
}

/** The call ends at this site: a phone, a flow or a mailbox here, not a trunk or another site. */
function endsHere(plan: RoutePlan): boolean {
  const first = plan.attempts[0];
  return first !== undefined && (first.kind === 'endpoint' || first.kind === 'flow' || first.kind === 'voicemail');
}

/**
 * A colleague's number as this site dials it back: `caller` in a range of `originSiteId`, turned into what this
 * site dials to reach it (prefix + number when the origin's range is private or overlaps ours). Undefined when
 * it already reads right, is not a number of the origin's plan, or this site cannot dial it back at all.
 */
function dialBackNumber(site: CompiledSite, originSiteId: string, caller: string, t?: Tracer): string | undefined {
  if (!/^[0-9]{1,15}$/.test(caller) || site.plan.rangeAt(originSiteId, caller) === undefined) return undefined;
  const back = site.plan.dialStringFrom(site.siteId, originSiteId, caller);
  if (back === undefined || back === caller) return undefined;
  t?.step('caller-id', `caller ${caller} of ${originSiteId} is shown as ${back}: what ${site.siteId} dials to call back`, { callerId: back });
  return back;
}

/** The same decision with its step-by-step explanation, as data. */
export function traceRoute(site: CompiledSite, req: RouteRequest): TraceResult {
  const steps: TraceStep[] = [];
  const plan = resolveRoute(site, req, {
    step: (step, detail, data) => steps.push(data === undefined ? { step, detail } : { step, detail, data }),
  });
  return { plan, steps };
}

function resolveInternal(site: CompiledSite, caller: string, dialled: string, health: Health, t?: Tracer): RoutePlan {
  if (site.emergencyNumbers.has(dialled)) return emergency(site, dialled, health, t);

  const target = site.plan.classify(site.siteId, dialled);
  if (target !== undefined) {
    t?.step('numbering-plan', describeTarget(target), { kind: target.kind, site: target.siteId, number: target.number });
    switch (target.kind) {
      case 'own':
        return local(site, target.number, 'local', t);
      case 'prefix-unassigned':
        return deny(site, 'unassigned', `${target.prefix}${target.number}: no range of ${target.siteId} holds ${target.number}`, 'internal', t);
      case 'site': {
        const classes = callerClasses(site, caller);
        if (!classes.has('internal')) {
          return deny(site, 'class-of-service', `caller ${caller} may not place internal calls to other sites`, 'internal', t);
        }
        return interSite(site, target.siteId, target.number, target.range, health, t);
      }
    }
  }
  t?.step('numbering-plan', `${dialled} is in no range of the federation: an external number`);

  const match = site.outbound.bestMatch(dialled);
  if (match === undefined) return deny(site, 'no-route', `no outbound route of ${site.siteId} matches ${dialled}`, 'internal', t);
  const route = match.value;
  t?.step('outbound-route', `route "${route.name}" matches ${dialled} with ${match.pattern.text} (${route.callClass})`, {
    route: route.id,
    pattern: match.pattern.text,
    callClass: route.callClass,
  });
  const classes = callerClasses(site, caller);
  if (!classes.has(route.callClass)) {
    return deny(
      site,
      'class-of-service',
      `caller ${caller || 'unknown'} may not place ${route.callClass} calls (allowed: ${[...classes].join(', ') || 'none'})`,
      route.callClass,
      t,
    );
  }
  t?.step('class-of-service', `${route.callClass} calls allowed for ${caller || 'unknown'}`);
  const attempts = trunkAttempts(site, route, dialled, health, undefined, 'route', t);
  if (attempts.length === 0) {
    return deny(site, 'all-routes-down', `every trunk of route "${route.name}" is unavailable`, route.callClass, t);
  }
  const first = attempts[0] as AttemptOf<'trunk'>;
  const kind: RouteKind = first.trunkSiteId === site.siteId ? 'pstn' : 'teho';
  return finish(site, kind, route.callClass, attempts, site.site.recording.external, first.trunkSiteId === site.siteId ? undefined : first.trunkSiteId, first.trunkId, t);
}

function resolveFromSite(site: CompiledSite, fromSiteId: string | undefined, dialled: string, health: Health, t?: Tracer): RoutePlan {
  if (fromSiteId === undefined || !site.directory.has(fromSiteId)) {
    return deny(site, 'no-route', `call from an unknown site (${fromSiteId ?? 'none'})`, 'internal', t);
  }
  // An emergency call leaves through the caller's own site only: from here it would reach this site's emergency
  // centre, not the caller's. (Validation keeps emergency numbers out of every range, so no site sends one here.)
  if (site.emergencyNumbers.has(dialled)) {
    return deny(site, 'no-route', `${dialled} is an emergency number: ${site.siteId} does not place emergency calls for ${fromSiteId}`, 'emergency', t);
  }
  const range = site.plan.rangeAt(site.siteId, dialled);
  if (range !== undefined) {
    t?.step('numbering-plan', `${dialled} is in ${site.siteId}'s range ${range.from}-${range.to}`);
    const plan = local(site, dialled, 'local', t);
    return plan.outcome === 'route' ? { ...plan, record: site.site.recording.interSite, tags: { ...plan.tags, targetSiteId: site.siteId } } : plan;
  }

  const target = site.plan.classify(site.siteId, dialled);
  if (target?.kind === 'site') {
    if (site.hubSiteId !== site.siteId) {
      return deny(site, 'no-route', `${site.siteId} is not the hub: it does not pass calls from ${fromSiteId} on to ${target.siteId}`, 'internal', t);
    }
    if (target.siteId === fromSiteId) return deny(site, 'loop', `${dialled} belongs to ${fromSiteId}, where the call came from`, 'internal', t);
    t?.step('transit', `hub ${site.siteId} passes the call from ${fromSiteId} on to ${target.siteId}`);
    const hop = nextHop(site, target.siteId, health);
    if (hop === undefined || hop.state === 'down') {
      return deny(site, 'all-routes-down', `the link from hub ${site.siteId} to ${target.siteId} is down`, 'internal', t);
    }
    const attempt = siteAttempt(site, target.siteId, hop.via, target.number);
    return finish(site, 'site', 'internal', [attempt], site.site.recording.interSite, target.siteId, undefined, t);
  }

  // Tail-end hop-off: another site sends an external number to leave through one of our trunks.
  for (const match of site.hopOff.allMatches(dialled)) {
    const route = match.value;
    if (!routeAppliesTo(route, fromSiteId)) continue;
    t?.step('hop-off', `route "${route.name}" of ${fromSiteId} leaves through ${site.siteId}'s trunks (${match.pattern.text})`, { route: route.id });
    const attempts: Attempt[] = [];
    for (const pref of route.trunks) {
      const trunk = site.trunks.get(pref.trunkId);
      if (trunk === undefined || !trunk.local) continue;
      if (health.trunks[trunk.id] === 'down') {
        t?.step('trunk', `skip ${trunk.name}: trunk is down`, { trunk: trunk.id, skipped: true });
        continue;
      }
      const number = manipulate(dialled, pref);
      if (number === undefined) continue;
      attempts.push(localTrunkAttempt(trunk, number, 'route'));
      t?.step('trunk', `dial ${number} through ${trunk.name}`, { trunk: trunk.id, number });
    }
    if (attempts.length === 0) {
      return deny(site, 'all-routes-down', `${site.siteId}'s trunks for route "${route.name}" are down`, route.callClass, t);
    }
    const first = attempts[0] as AttemptOf<'trunk'>;
    return finish(site, 'teho', route.callClass, attempts, site.site.recording.interSite, undefined, first.trunkId, t);
  }
  return deny(site, 'hop-off-not-allowed', `${fromSiteId} may not reach ${dialled} through ${site.siteId}`, 'internal', t);
}

function resolveFromPstn(site: CompiledSite, did: string, trunkId: string | undefined, health: Health, t?: Tracer): RoutePlan {
  const candidates = site.inbound.allMatches(did);
  const match = candidates.find((m) => m.value.trunkId === undefined || m.value.trunkId === trunkId);
  if (match === undefined) return deny(site, 'unassigned', `no inbound route of ${site.siteId} for DID ${did}`, 'internal', t);
  const route = match.value;
  const destination = route.destination;
  t?.step('inbound-route', `DID ${did} matches inbound route ${route.id} (${match.pattern.text}) -> ${destination.type}`, { route: route.id });
  const record = site.site.recording.external;
  // A DID call that ends here targets this site, as a call from another site ringing a phone here does.
  switch (destination.type) {
    case 'flow':
      return finish(site, 'flow', 'internal', [{ kind: 'flow', flowId: destination.flowId }], record, site.siteId, undefined, t);
    case 'voicemail':
      return finish(site, 'voicemail', 'internal', [{ kind: 'voicemail', mailbox: destination.mailbox }], record, site.siteId, undefined, t);
    case 'hangup':
      return deny(site, 'no-route', `inbound route ${route.id} hangs up`, 'internal', t);
    case 'extension':
    case 'did-suffix': {
      const number = destination.type === 'extension' ? destination.number : did.slice(-destination.digits);
      const target = site.plan.classify(site.siteId, number);
      if (target?.kind === 'own') {
        const plan = local(site, target.number, 'local', t);
        return plan.outcome === 'route' ? { ...plan, record, tags: { ...plan.tags, targetSiteId: site.siteId } } : plan;
      }
      if (target?.kind === 'site') return interSite(site, target.siteId, target.number, target.range, health, t);
      return deny(site, 'unassigned', `DID ${did} leads to ${number}, which is in no range`, 'internal', t);
    }
  }
}

function emergency(site: CompiledSite, dialled: string, health: Health, t?: Tracer): RoutePlan {
  t?.step('emergency', `${dialled} is an emergency number: always through a local trunk, whatever the class of service`);
  if (site.emergencyTrunks.length === 0) {
    return deny(site, 'no-emergency-trunk', `${site.siteId} has no trunk that may carry emergency calls`, 'emergency', t);
  }
  // Trunks believed down are still tried, last: an emergency call is never refused for a stale health view.
  const up = site.emergencyTrunks.filter((tr) => health.trunks[tr.id] !== 'down');
  const down = site.emergencyTrunks.filter((tr) => health.trunks[tr.id] === 'down');
  const attempts = [...up, ...down].map((tr) => localTrunkAttempt(tr, dialled, 'emergency'));
  for (const a of attempts) t?.step('trunk', `dial ${dialled} through ${a.endpoint}`, { trunk: a.trunkId });
  return finish(site, 'emergency', 'emergency', attempts, false, undefined, attempts[0]?.trunkId, t);
}

function local(site: CompiledSite, number: string, kind: RouteKind, t?: Tracer): RoutePlan {
  // The callee's fields read by row: no view object for what the plan does not keep (its display name is for traces).
  const extensions = site.extensions;
  const row = extensions.row(number);
  if (row >= 0) {
    const endpoint = extensions.endpointAt(row) ?? number;
    const timeoutSec = extensions.ringTimeoutAt(row);
    const voicemail = extensions.voicemailAt(row);
    const attempts: Attempt[] = [{ kind: 'endpoint', number, endpoint, timeoutSec }];
    if (voicemail) attempts.push({ kind: 'voicemail', mailbox: number });
    t?.step('extension', `${number} is ${extensions.displayNameAt(row)}: ring PJSIP/${endpoint} for ${timeoutSec} s${voicemail ? ', then voicemail' : ''}`);
    return finish(site, kind, 'internal', attempts, false, undefined, undefined, t);
  }
  const flow = site.flowsByNumber.get(number);
  if (flow !== undefined) {
    t?.step('flow', `${number} runs call flow "${flow.name}"`, { flow: flow.id });
    return finish(site, 'flow', 'internal', [{ kind: 'flow', flowId: flow.id }], false, undefined, undefined, t);
  }
  return deny(site, 'unassigned', `${number} is in ${site.siteId}'s range but not assigned`, 'internal', t);
}

/**
 * A number at another site: over the inter-site link (directly, or through the hub); when the link is down,
 * through the PSTN to the number's DID (or the site's main number), never through the unreachable site.
 */
function interSite(site: CompiledSite, targetSiteId: string, number: string, range: NumberRange, health: Health, t?: Tracer): RoutePlan {
  const attempts: Attempt[] = [];
  const hop = nextHop(site, targetSiteId, health);
  if (hop !== undefined && hop.state === 'up') {
    const attempt = siteAttempt(site, targetSiteId, hop.via, number);
    attempts.push(attempt);
    t?.step('link', `${targetSiteId} ${hop.via === targetSiteId ? 'directly' : `through hub ${hop.via}`}: dial ${attempt.number} on ${attempt.endpoint}`, {
      site: targetSiteId,
      via: hop.via,
    });
  } else {
    t?.step('link', hop === undefined ? `no link from ${site.siteId} to ${targetSiteId}` : `link to ${hop.via} is down: skip`, { site: targetSiteId, skipped: true });
  }

  const did = range.pstnPrefix !== undefined ? range.pstnPrefix + number : site.directory.get(targetSiteId)?.mainNumber;
  if (did !== undefined) {
    const match = site.outbound.bestMatch(did);
    if (match !== undefined) {
      const fallback = trunkAttempts(site, match.value, did, health, targetSiteId, 'link-down-fallback', t);
      if (fallback.length > 0) {
        t?.step('fallback', `if ${targetSiteId} cannot be reached over the link: ${did} over the PSTN (route "${match.value.name}")`, { did, plan: true });
      }
      attempts.push(...fallback);
    } else {
      t?.step('fallback', `no outbound route for ${targetSiteId}'s PSTN number ${did}`);
    }
  }
  if (attempts.length === 0) {
    return deny(site, 'all-routes-down', `${targetSiteId} is unreachable: link down and no PSTN fallback`, 'internal', t);
  }
  const first = attempts[0] as Attempt;
  return finish(site, 'site', 'internal', attempts, site.site.recording.interSite, targetSiteId, first.kind === 'trunk' ? first.trunkId : undefined, t);
}

function trunkAttempts(
  site: CompiledSite,
  route: OutboundRoute,
  dialled: string,
  health: Health,
  avoidSiteId: string | undefined,
  reason: AttemptOf<'trunk'>['reason'],
  t?: Tracer,
): Attempt[] {
  const attempts: Attempt[] = [];
  for (const pref of route.trunks) {
    const trunk = site.trunks.get(pref.trunkId);
    if (trunk === undefined) {
      t?.step('trunk', `skip ${pref.trunkId}: not in this site's snapshot`, { trunk: pref.trunkId, skipped: true });
      continue;
    }
    if (health.trunks[trunk.id] === 'down') {
      t?.step('trunk', `skip ${trunk.name} at ${trunk.siteId}: trunk is down`, { trunk: trunk.id, skipped: true });
      continue;
    }
    if (trunk.local) {
      const number = manipulate(dialled, pref);
      if (number === undefined) continue;
      attempts.push(localTrunkAttempt(trunk, number, reason));
      t?.step('trunk', `dial ${number} through ${trunk.name} (strip ${pref.strip}, prepend "${pref.prepend}")`, { trunk: trunk.id, number });
      continue;
    }
    if (trunk.siteId === avoidSiteId) {
      // The fallback is planned whether or not the site is down now: worded as a plan, so a trace with every
      // link up does not read as "the site is down".
      t?.step('trunk', `if ${trunk.siteId} is unreachable: not through ${trunk.name}, which is at ${trunk.siteId}`, { trunk: trunk.id, plan: true });
      continue;
    }
    const hop = nextHop(site, trunk.siteId, health);
    if (hop === undefined || hop.state === 'down') {
      t?.step('trunk', `skip ${trunk.name} at ${trunk.siteId}: the link to ${trunk.siteId} is ${hop === undefined ? 'missing' : 'down'}`, { trunk: trunk.id, skipped: true });
      continue;
    }
    // The remote site applies the preference's strip/prepend itself (it hops off with its own route copy).
    attempts.push({
      kind: 'trunk',
      trunkId: trunk.id,
      trunkSiteId: trunk.siteId,
      via: hop.via,
      number: dialled,
      endpoint: `site-${hop.via}`,
      timeoutSec: PSTN_RING_TIMEOUT_SEC,
      reason,
    });
    t?.step('trunk', `send ${dialled} to ${trunk.siteId} to leave through its trunk ${trunk.name} (tail-end hop-off)`, { trunk: trunk.id, via: hop.via });
  }
  return attempts;
}

function localTrunkAttempt(trunk: TrunkRef, number: string, reason: AttemptOf<'trunk'>['reason']): AttemptOf<'trunk'> {
  return { kind: 'trunk', trunkId: trunk.id, trunkSiteId: trunk.siteId, number, endpoint: trunk.endpoint, timeoutSec: PSTN_RING_TIMEOUT_SEC, reason };
}

function siteAttempt(site: CompiledSite, targetSiteId: string, via: string, number: string): AttemptOf<'site'> {
  // Through a hub, send what the hub must dial to reach the target (its prefix when the target is private).
  const onWire = via === targetSiteId ? number : (site.plan.dialStringFrom(via, targetSiteId, number) ?? number);
  const timeoutSec = site.directory.get(targetSiteId)?.ringTimeoutSec ?? 30;
  return { kind: 'site', siteId: targetSiteId, via, number: onWire, endpoint: `site-${via}`, timeoutSec };
}

function nextHop(site: CompiledSite, targetSiteId: string, health: Health): { via: string; state: 'up' | 'down' } | undefined {
  const via = site.links.has(targetSiteId)
    ? targetSiteId
    : site.hubSiteId !== undefined && site.hubSiteId !== site.siteId && site.links.has(site.hubSiteId)
      ? site.hubSiteId
      : undefined;
  if (via === undefined) return undefined;
  return { via, state: health.links[via] === 'down' ? 'down' : 'up' };
}

function manipulate(dialled: string, pref: TrunkPreference): string | undefined {
  const out = pref.prepend + dialled.slice(pref.strip);
  return isDiallable(out) ? out : undefined;
}

/**
 * `/^\+?[0-9*#]{1,32}$/`: a number the PJSIP dial string takes as it is. A loop, not a regular expression: it is asked
 * on every call before the first command, where a regular expression's test costs several times a loop's once the
 * caches went cold between calls (route-resolver.spec.ts holds it to the expression).
 */
export function isDiallable(number: string): boolean {
  const from = number.charCodeAt(0) === 43 ? 1 : 0; // a leading +
  const digits = number.length - from;
  if (digits < 1 || digits > 32) return false;
  for (let i = from; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 42 || c === 35)) return false;
  }
  return true;
}

function callerClasses(site: CompiledSite, caller: string): ReadonlySet<CallClass> {
  const cosId = site.extensions.classOfServiceOf(caller);
  return (cosId !== undefined ? site.classesOfService.get(cosId) : undefined) ?? site.defaultClasses;
}

function describeTarget(target: NonNullable<ReturnType<CompiledSite['plan']['classify']>>): string {
  switch (target.kind) {
    case 'own':
      return `${target.number} is in ${target.siteId}'s own range ${target.range.from}-${target.range.to}`;
    case 'site':
      return target.prefix !== undefined
        ? `${target.prefix}${target.number}: prefix ${target.prefix} is ${target.siteId}; it sees ${target.number} (range ${target.range.from}-${target.range.to})`
        : `${target.number} is in ${target.siteId}'s range ${target.range.from}-${target.range.to}`;
    case 'prefix-unassigned':
      return `prefix ${target.prefix} is ${target.siteId}, but ${target.number} is in none of its ranges`;
  }
}

function finish(
  site: CompiledSite,
  routeKind: RouteKind,
  callClass: CallClass,
  attempts: Attempt[],
  record: boolean,
  targetSiteId: string | undefined,
  trunkId: string | undefined,
  t?: Tracer,
): RoutePlan {
  t?.step('decision', `${routeKind}: ${attempts.length} attempt(s)${record ? ', recorded' : ''}`, { routeKind, attempts: attempts.length });
  const tags: RoutePlan['tags'] = { routeKind, originSiteId: site.siteId, revision: site.revision };
  if (targetSiteId !== undefined) tags.targetSiteId = targetSiteId;
  if (trunkId !== undefined) tags.trunkId = trunkId;
  return { outcome: 'route', routeKind, callClass, attempts, record, tags };
}

function deny(site: CompiledSite, code: DenyCode, message: string, callClass: CallClass, t?: Tracer): RoutePlan {
  t?.step('decision', `denied (${code}): ${message}`, { code });
  return {
    outcome: 'denied',
    routeKind: 'none',
    callClass,
    attempts: [],
    deny: { code, message },
    record: false,
    tags: { routeKind: 'none', originSiteId: site.siteId, revision: site.revision },
  };
}
