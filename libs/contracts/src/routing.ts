import { z } from 'zod';
import { CallClass } from './class-of-service.js';
import { DialString, ObjectId, SiteId } from './primitives.js';

/** The three ways Asterisk hands a call to the agent (the AGI script part). */
export const ROUTE_ENTRIES = ['internal', 'from-sites', 'from-pstn'] as const;
export const RouteEntry = z.enum(ROUTE_ENTRIES);
export type RouteEntry = z.infer<typeof RouteEntry>;

export const HealthState = z.enum(['up', 'down']);
export type HealthState = z.infer<typeof HealthState>;

/** What the resolver knows of the world: links by peer site, trunks by id. Absent means up. */
export const Health = z.strictObject({
  links: z.record(SiteId, HealthState).default({}),
  trunks: z.record(ObjectId, HealthState).default({}),
});
export type Health = z.infer<typeof Health>;

export const ROUTE_KINDS = ['local', 'site', 'pstn', 'teho', 'emergency', 'flow', 'voicemail', 'none'] as const;
export const RouteKind = z.enum(ROUTE_KINDS);
export type RouteKind = z.infer<typeof RouteKind>;

export const DENY_CODES = [
  'invalid-number',
  'unassigned',
  'class-of-service',
  'no-route',
  'all-routes-down',
  'hop-off-not-allowed',
  'no-emergency-trunk',
  'loop',
] as const;
export const DenyCode = z.enum(DENY_CODES);
export type DenyCode = z.infer<typeof DenyCode>;

/** One thing to try, in order. Each carries only whitelisted values (site ids, object names, digits). */
export const Attempt = z.discriminatedUnion('kind', [
  /** A phone at this site. */
  z.strictObject({ kind: z.literal('endpoint'), number: DialString, endpoint: z.string(), timeoutSec: z.number() }),
  /** Another site over the inter-site link (`via` is the next hop: the target itself, or the hub). */
  z.strictObject({
    kind: z.literal('site'),
    siteId: SiteId,
    via: SiteId,
    number: DialString,
    endpoint: z.string(),
    timeoutSec: z.number(),
  }),
  /** The PSTN through a trunk at this site, or through a remote site's trunk reached over the link (`via`). */
  z.strictObject({
    kind: z.literal('trunk'),
    trunkId: ObjectId,
    trunkSiteId: SiteId,
    via: SiteId.optional(),
    number: DialString,
    endpoint: z.string(),
    timeoutSec: z.number(),
    reason: z.enum(['route', 'emergency', 'link-down-fallback']).default('route'),
  }),
  z.strictObject({ kind: z.literal('flow'), flowId: ObjectId }),
  z.strictObject({ kind: z.literal('voicemail'), mailbox: DialString }),
]);
export type Attempt = z.infer<typeof Attempt>;
export type AttemptOf<K extends Attempt['kind']> = Extract<Attempt, { kind: K }>;

/** Tags the agent sets on the channel so the CDR carries the route decision. */
export const RouteTags = z.strictObject({
  routeKind: RouteKind,
  originSiteId: SiteId,
  targetSiteId: SiteId.optional(),
  trunkId: ObjectId.optional(),
  revision: z.number().int(),
});
export type RouteTags = z.infer<typeof RouteTags>;

export const RoutePlan = z.strictObject({
  outcome: z.enum(['route', 'denied']),
  routeKind: RouteKind,
  callClass: CallClass,
  attempts: z.array(Attempt),
  deny: z.strictObject({ code: DenyCode, message: z.string() }).optional(),
  /** Record the call (MixMonitor) per the site's recording policy. */
  record: z.boolean(),
  tags: RouteTags,
  /**
   * The caller number to present to the callee when it differs from what arrived: a colleague at another site
   * shown as this site would dial them back (`5101` for 101 at a site behind prefix 5).
   */
  callerId: DialString.optional(),
});
export type RoutePlan = z.infer<typeof RoutePlan>;

/** One step of a call's explanation, as data (rendered by the CLI and the console). */
export const TraceStep = z.strictObject({
  step: z.string(),
  detail: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type TraceStep = z.infer<typeof TraceStep>;

export const TraceRequest = z.strictObject({
  siteId: SiteId,
  entry: RouteEntry.default('internal'),
  caller: z.string().max(32).default(''),
  /** For `from-sites`: the site the call comes from. */
  fromSiteId: SiteId.optional(),
  number: z.string().min(1).max(32),
  /** ISO time; now when absent. */
  at: z.iso.datetime().optional(),
  health: Health.optional(),
});
export type TraceRequest = z.infer<typeof TraceRequest>;

export const TraceResult = z.strictObject({ plan: RoutePlan, steps: z.array(TraceStep) });
export type TraceResult = z.infer<typeof TraceResult>;
