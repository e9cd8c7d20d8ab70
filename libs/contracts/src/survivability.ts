/**
 * The survivability report of one site (#19 §2): for each failure scenario, what the site can still do. Computed
 * by libs/dialplan from the site's snapshot; served by the agent (`fedpbx-agent survivability`) and the controller
 * (`GET /api/v1/sites/:siteId/survivability`). Output only (never parsed from outside), so plain types.
 */

export const SURVIVABILITY_SCENARIO_KINDS = ['centre-down', 'link-down', 'all-links-down', 'trunk-down', 'agent-down'] as const;
export type SurvivabilityScenarioKind = (typeof SURVIVABILITY_SCENARIO_KINDS)[number];

/** What one row is about. */
export const SURVIVABILITY_AREAS = ['emergency', 'numbers', 'outbound', 'inbound', 'call-flow', 'cdrs', 'presence'] as const;
export type SurvivabilityArea = (typeof SURVIVABILITY_AREAS)[number];

/**
 * `red-flag`: lost in this scenario although it works with everything up (or an emergency call with no path);
 * `degraded`: still works, another way (PSTN instead of the link, a backup trunk, delivered later);
 * `works`: as with everything up; `not-available`: does not work even with everything up (not a loss).
 */
export const SURVIVABILITY_STATUSES = ['red-flag', 'degraded', 'works', 'not-available'] as const;
export type SurvivabilityStatus = (typeof SURVIVABILITY_STATUSES)[number];

export interface SurvivabilityRow {
  readonly area: SurvivabilityArea;
  /** Stable key of the thing within its area (range id, route id, trunk-independent), for comparing reports. */
  readonly key: string;
  /** What it is, for people: "piter 300-499", "International (international)", "112", "Moscow reception". */
  readonly subject: string;
  readonly status: SurvivabilityStatus;
  /** How it is reached in this scenario ("direct over the link to piter", "PSTN 88125550300 via trunk moscow-city"); empty when not at all. */
  readonly path: string;
  /** Why, in words. */
  readonly reason: string;
  /** Objects involved, for links in the console. */
  readonly siteId?: string;
  readonly trunkId?: string;
  readonly routeId?: string;
  readonly flowId?: string;
}

export interface SurvivabilityScenario {
  /** `centre-down`, `link-down:<peer site>`, `all-links-down`, `trunk-down:<trunk id>`, `agent-down`. */
  readonly id: string;
  readonly kind: SurvivabilityScenarioKind;
  /** The failed site (link-down) or trunk (trunk-down). */
  readonly subject?: string;
  readonly title: string;
  /** What the scenario assumes, in words. */
  readonly assumes: string;
  readonly redFlags: number;
  /** Red flags first, then degraded, working, not available. */
  readonly rows: readonly SurvivabilityRow[];
}

export interface SurvivabilityReport {
  readonly siteId: string;
  readonly revision: number;
  /** Red flags over every scenario. */
  readonly redFlags: number;
  readonly scenarios: readonly SurvivabilityScenario[];
}

/** One row that differs between two reports (a pending write's dry run): absent before = new, absent after = gone. */
export interface SurvivabilityChange {
  readonly siteId: string;
  readonly scenarioId: string;
  readonly scenarioTitle: string;
  readonly area: SurvivabilityArea;
  readonly subject: string;
  readonly before?: { readonly status: SurvivabilityStatus; readonly path: string };
  readonly after?: { readonly status: SurvivabilityStatus; readonly path: string; readonly reason: string };
}
