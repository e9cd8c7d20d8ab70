import { z } from 'zod';
import { RouteKind } from './routing.js';
import { SiteId } from './primitives.js';

/**
 * What the controller's event stream (`GET /api/v1/events`, Server-Sent Events) tells a console: that something
 * it may show changed, never the data itself (the console reads it again through the scoped API). Topics:
 * `config` an object was written (`kind`: its resource kind), `rollout` a site's revision was published, applied,
 * refused or its Asterisk files written, `agents` an agent went online or offline or its alarms changed, `health`
 * a link or trunk state, `cdrs` new call records, `calls` the calls in progress at a site.
 */
export const LIVE_TOPICS = ['config', 'rollout', 'agents', 'health', 'cdrs', 'calls'] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

export interface LiveEvent {
  readonly topic: LiveTopic;
  /**
   * The sites it concerns (only those the receiver may read are sent); empty for a federation-wide change (a
   * class of service, the hub), which every signed-in user receives.
   */
  readonly siteIds: readonly string[];
  /** For `config`: the resource kind written (`sites`, `extensions`, ...). */
  readonly kind?: string;
}

/** How many calls in progress an agent lists in one report (the count is always exact). */
export const ACTIVE_CALLS_LISTED = 200;

/**
 * One call in progress at a site, as the agent knows it from its FastAGI sessions and AMI channel events. A call
 * that crosses sites is reported by each site it passes through under the same `callId` (FEDPBX_CALL).
 */
export const ActiveCall = z.strictObject({
  /** The federation-wide call id (FEDPBX_CALL), or `<site>/<linkedid>` for a call that began here. */
  callId: z.string().min(1).max(200),
  /** Who calls (the caller id number) and whom (the dialled number). */
  caller: z.string().max(80),
  callee: z.string().max(80),
  routeKind: RouteKind.optional(),
  /** Where the call came from, when it came over a link, and the site it was sent to. */
  originSiteId: SiteId.optional(),
  targetSiteId: SiteId.optional(),
  /** When the call began at this site (agent clock). */
  since: z.iso.datetime(),
});
export type ActiveCall = z.infer<typeof ActiveCall>;

/**
 * An agent's calls in progress, published on core NATS (`Subjects.activeCalls(site)`) whenever they change and
 * with every heartbeat; not stored: the controller keeps the newest report per site while it is fresh.
 */
export const ActiveCallsReport = z.strictObject({
  siteId: SiteId,
  at: z.iso.datetime(),
  /** Every call in progress; `calls` lists at most ACTIVE_CALLS_LISTED of them (the oldest first). */
  total: z.number().int().min(0),
  calls: z.array(ActiveCall).max(ACTIVE_CALLS_LISTED),
});
export type ActiveCallsReport = z.infer<typeof ActiveCallsReport>;

/** A call in progress as the API shows it: its parts at each site the caller may read, joined by call id. */
export interface ActiveCallView {
  readonly callId: string;
  /** From the site where the call began when the caller may read it, else from its oldest part. */
  readonly caller: string;
  readonly callee: string;
  readonly routeKind?: ActiveCall['routeKind'];
  /** The oldest part's start. */
  readonly since: string;
  /** The readable sites it is at now, in the order it reached them. */
  readonly sites: readonly string[];
  readonly legs: readonly (ActiveCall & { readonly siteId: string })[];
}

/** `GET /api/v1/active-calls`: per readable site the count its agent reported, and the calls listed. */
export interface ActiveCallsView {
  /** Sites whose agent reported recently; a site missing here has no current report (agent offline or older). */
  readonly sites: readonly { readonly siteId: string; readonly total: number; readonly reportedAt: string }[];
  readonly calls: readonly ActiveCallView[];
}
