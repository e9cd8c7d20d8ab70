/**
 * Which attempt of the route plan each CDR of a call is.
 *
 * Asterisk keeps one CDR per Dial (main/cdr.c: a Dial begin that no record takes appends a new one), dispatches
 * all of them when the channel hangs up, and `CDR(x)=` writes every record that is not finalized-with-a-successor
 * (ast_cdr_setvar) - so a record finalized by a failed Dial takes the values meant for the next Dial (observed on
 * Asterisk 22.10.1: the NO ANSWER leg to site-piter carried the PSTN trunk of the failover). Per-Dial CDR
 * variables therefore cannot describe legs. Instead the agent sets ONE CDR variable before the first Dial, the
 * ordered list of the plan's Dial attempts (copied to every later record, cdr_object_create_and_append), and each
 * CDR is matched to its attempt by what Asterisk itself wrote on it: the endpoint of its `dstchannel`
 * (`PJSIP/site-piter-00000012` -> `site-piter`), and, when several attempts use one endpoint, the Dial data in
 * its `lastdata` (`PJSIP/301@site-piter,...`).
 */
import { RouteKind, type Attempt, type RoutePlan } from '@fedpbx/contracts';
import { LinePieces } from '@fedpbx/asterisk';
import { isLegField } from './char-checks.js';

export interface CallLeg {
  readonly routeKind: RouteKind;
  /** The PJSIP endpoint the leg dials (`site-piter`, `trunk-moscow-city`, `101`). */
  readonly endpoint: string;
  /** What the leg dials on that endpoint. */
  readonly number: string;
  readonly targetSiteId?: string;
  readonly trunkId?: string;
}

/** The CDR variable (and cdr_manager header) holding the list. */
export const FEDPBX_LEGS = 'FEDPBX_LEGS';
/**
 * Legs beyond this many, or beyond LEGS_MAX_CHARS of text, are left out (their CDR then falls back to the call's
 * first choice): the list travels in one AGI command line, which res_agi reads into a 2,048-byte buffer.
 */
export const MAX_LEGS = 16;
const LEGS_MAX_CHARS = 1024;

type DialAttempt = Extract<Attempt, { kind: 'endpoint' | 'site' | 'trunk' }>;

/** The leg an attempt makes: its own route kind, target site and trunk. */
export function legOf(siteId: string, plan: RoutePlan, attempt: DialAttempt): CallLeg {
  switch (attempt.kind) {
    case 'endpoint':
      // A phone here: the call ends at this site.
      return { routeKind: plan.routeKind, endpoint: attempt.endpoint, number: attempt.number, targetSiteId: plan.tags.targetSiteId ?? siteId };
    case 'site':
      return { routeKind: 'site', endpoint: attempt.endpoint, number: attempt.number, targetSiteId: attempt.siteId };
    case 'trunk': {
      const remote = attempt.trunkSiteId !== siteId;
      // Hop-off: through a remote site's trunk, or through ours for a call another site sent us to hop off.
      // A local trunk of our own call (a TEHO plan falling back to it) is a plain PSTN leg.
      const hopOffHere = plan.routeKind === 'teho' && plan.tags.originSiteId !== siteId;
      const routeKind: RouteKind = attempt.reason === 'emergency' ? 'emergency' : remote || hopOffHere ? 'teho' : 'pstn';
      // A remote trunk's leg targets the site it leaves through; the PSTN fallback of an inter-site call still
      // targets the site it reaches (at its DID).
      const target = remote ? attempt.trunkSiteId : attempt.reason === 'link-down-fallback' ? plan.tags.targetSiteId : undefined;
      // Two literals rather than a spread: no object made to be spread, on every call with a trunk leg.
      if (target === undefined) return { routeKind, endpoint: attempt.endpoint, number: attempt.number, trunkId: attempt.trunkId };
      return { routeKind, endpoint: attempt.endpoint, number: attempt.number, trunkId: attempt.trunkId, targetSiteId: target };
    }
  }
}

export function isDialAttempt(a: Attempt): a is DialAttempt {
  return a.kind === 'endpoint' || a.kind === 'site' || a.kind === 'trunk';
}

/**
 * `kind/endpoint/number/target/trunk` per leg, legs joined by `;`. Every field comes from the signed snapshot
 * (site ids, trunk ids, endpoint names, dial strings), none from the caller; a field of other characters than isLegField's
 * (what MSet data and every CDR backend carry unchanged) drops the leg.
 */
export function encodeLegs(legs: readonly CallLeg[]): string {
  // Every call encodes its plan's legs: the fields go straight into one join, no string per field or per leg.
  let chars = 0;
  let n = 0;
  for (const leg of legs) {
    if (n === MAX_LEGS) break;
    const target = leg.targetSiteId ?? '';
    const trunk = leg.trunkId ?? '';
    if (!isLegField(leg.routeKind) || !isLegField(leg.endpoint) || !isLegField(leg.number) || !isLegField(target) || !isLegField(trunk)) continue;
    // `;` before all but the first, and the four `/` between the fields.
    const length = (n === 0 ? 0 : 1) + leg.routeKind.length + leg.endpoint.length + leg.number.length + target.length + trunk.length + 4;
    if (chars + length > LEGS_MAX_CHARS) break;
    LEGS.add(n === 0 ? '' : ';').add(leg.routeKind).add('/').add(leg.endpoint).add('/').add(leg.number).add('/').add(target).add('/').add(trunk);
    chars += length;
    n += 1;
  }
  return LEGS.join();
}

/** The list's pieces (encodeLegs). */
const LEGS = new LinePieces();

/** The list as the CDR carries it back; malformed entries are skipped, never thrown on (it is data from Asterisk). */
export function decodeLegs(text: string): CallLeg[] {
  const legs: CallLeg[] = [];
  if (text.length > 4096) return legs;
  for (const entry of text.split(';')) {
    if (legs.length === MAX_LEGS) break;
    const f = entry.split('/');
    if (f.length !== 5 || !f.every((x) => isLegField(x))) continue;
    const [kind, endpoint, number, target, trunk] = f as [string, string, string, string, string];
    const routeKind = RouteKind.safeParse(kind);
    if (!routeKind.success || endpoint === '') continue;
    legs.push({ routeKind: routeKind.data, endpoint, number, ...(target === '' ? {} : { targetSiteId: target }), ...(trunk === '' ? {} : { trunkId: trunk }) });
  }
  return legs;
}

/** `PJSIP/site-piter-00000012` -> `site-piter` (chan_pjsip names a channel `<endpoint>-<8 hex>`). */
export function channelEndpoint(channel: string): string | undefined {
  const m = /^PJSIP\/(.+)-[0-9a-f]{8}$/.exec(channel.trim());
  return m?.[1];
}

/** The leg a CDR is, from its `dstchannel` and `lastdata`; undefined when it is none of them (a record without a Dial). */
export function legOfCdr(legs: readonly CallLeg[], dstChannel: string, lastData: string): CallLeg | undefined {
  const endpoint = channelEndpoint(dstChannel);
  if (endpoint === undefined) return undefined;
  const candidates = legs.filter((l) => l.endpoint === endpoint);
  if (candidates.length <= 1) return candidates[0];
  // Several attempts on one endpoint (two trunks of one remote site): the Dial data names the number too.
  const dialled = lastData.split(',')[0] ?? '';
  return candidates.find((l) => dialled.split('&').includes(`PJSIP/${l.number}@${l.endpoint}`)) ?? candidates[0];
}

/**
 * The legs of one call, in the order the agent decided them: the route plan's Dial attempts (written with the
 * first MSet), then each leg a call flow rings (a ring group's members, a dial step and its failover). Before each
 * Dial the agent writes the list again if it grew: `CDR(x)=` lands on the records already finalized too (see
 * above), which is harmless here because the list only grows - every earlier record still finds its own leg in it.
 */
export class CallLegBook {
  private readonly legs: CallLeg[];
  private written: string;
  /** A leg was added since the list was last encoded. */
  private grown = false;

  /**
   * `planLegs`: the plan's legs in order, an array made for the book, which takes it over (a repeated leg is taken
   * out of it): every call makes one, and a copy would be a second array per call.
   */
  constructor(planLegs: CallLeg[]) {
    this.legs = planLegs;
    for (let i = planLegs.length - 1; i > 0; i -= 1) if (repeatsEarlier(planLegs, i)) planLegs.splice(i, 1);
    this.written = encodeLegs(planLegs);
  }

  /** The list as the first MSet writes it. */
  get encoded(): string {
    return this.written;
  }

  /** Adds a leg unless the book has it already (same route kind, endpoint, number, target and trunk). */
  add(leg: CallLeg): void {
    // A call has a handful of legs (at most MAX_LEGS are written): compared field by field, no key string per leg.
    for (const known of this.legs) if (sameLeg(known, leg)) return;
    this.legs.push(leg);
    this.grown = true;
  }

  /**
   * The list to write before the next Dial, when a leg was added since it was last written; then it counts as
   * written. Every Dial asks, so the common answer (nothing new) costs a flag test, not an encoding.
   */
  takeUpdate(): string | undefined {
    if (!this.grown) return undefined;
    this.grown = false;
    const now = encodeLegs(this.legs);
    if (now === this.written) return undefined;
    this.written = now;
    return now;
  }
}

/** Whether `legs[i]` is the same leg as one before it. */
function repeatsEarlier(legs: readonly CallLeg[], i: number): boolean {
  for (let j = 0; j < i; j += 1) if (sameLeg(legs[j] as CallLeg, legs[i] as CallLeg)) return true;
  return false;
}

function sameLeg(a: CallLeg, b: CallLeg): boolean {
  return a.routeKind === b.routeKind && a.endpoint === b.endpoint && a.number === b.number && (a.targetSiteId ?? '') === (b.targetSiteId ?? '') && (a.trunkId ?? '') === (b.trunkId ?? '');
}
