/**
 * Shapes of the REST API as the console reads them. Object shapes come from @fedpbx/contracts (types only, so
 * no schema code ships to the browser); the envelopes below mirror the controller's answers.
 */
export type {
  SurvivabilityChange,
  SurvivabilityReport,
  SurvivabilityRow,
  SurvivabilityScenario,
  SurvivabilityStatus,
  AgentStatus,
  CallFlow,
  CallFlowLayout,
  CallDetail,
  CdrPage,
  CdrRecord,
  ClassOfService,
  DecommissionOutcome,
  DecommissionPlan,
  EnrollmentToken,
  EnrollmentTokenIssued,
  EnrollmentTokenPage,
  EnrollmentTokenState,
  Extension,
  FlowNode,
  FlowNodeType,
  InboundRoute,
  InterSiteLink,
  LayoutPosition,
  LiveTraceResponse,
  NumberRange,
  RevocationPushState,
  OutboundRoute,
  RolloutState,
  ActiveCallsView,
  ActiveCallView,
  RouteEntry,
  SiteRollout,
  Site,
  TraceResult,
  TraceStep,
  Trunk,
  TrunkPreference,
} from '@fedpbx/contracts';
import type { IssueObjectRef, RevocationPushState, SurvivabilityChange, ValidationIssue, WriteAnswer } from '@fedpbx/contracts';

export interface InputProblem {
  readonly path: string;
  readonly message: string;
  readonly code?: string;
}

/** An object a validation finding names. */
export type ObjectRef = IssueObjectRef;
/** One finding of the controller's whole-federation validation (libs/dialplan FederationIssue). */
export type FederationIssue = ValidationIssue;

export interface ApiErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly problems?: InputProblem[];
    readonly issues?: FederationIssue[];
    readonly warnings?: FederationIssue[];
    readonly retryAfterSec?: number;
  };
}

export interface Page<T> {
  readonly items: T[];
  readonly next?: string;
}

/** What every federation write answers (also for `?dryRun=true`: the impact preview). */
export type WriteResponse<T = Record<string, unknown>> = WriteAnswer<T> & {
  /** Dry runs of valid writes: what the change does to the survivability reports of the caller's changed sites. */
  readonly survivability?: { readonly changes: readonly SurvivabilityChange[]; readonly sitesNotCompared: readonly string[] };
};

export interface Me {
  readonly userId: string;
  readonly username: string;
  readonly via: string;
  readonly headOffice: boolean;
  readonly readableSites: readonly string[] | 'all';
  /** Where the caller may change things: a viewer reads sites it cannot write. */
  readonly writableSites: readonly string[] | 'all';
  /** A read-only API token (the console itself always signs in with a password). */
  readonly readOnly?: boolean;
  /** Head office reset the password: the console shows only the form to choose a new one. */
  readonly mustChangePassword?: boolean;
}

/** Sign-in and refresh answers: a short-lived access token and the one-use refresh token that renews it. */
export interface LoginAnswer {
  readonly accessToken: string;
  readonly expiresAt: string;
  readonly refreshToken: string;
  readonly sessionId: string;
  readonly sessionExpiresAt: string;
  readonly mustChangePassword: boolean;
}

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly source: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly expiresAt: string;
}

export interface NumberingPlanView {
  readonly hubSiteId?: string;
  readonly sites: { id: string; name: string; prefix?: string; prefixRequired: boolean }[];
  readonly numberRanges: { id: string; siteId: string; from: string; to: string }[];
}

export type Role = 'head-office-admin' | 'site-admin' | 'viewer';
export interface Grant {
  readonly role: Role;
  readonly siteId: string | null;
}

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly disabled: boolean;
  readonly mustChangePassword?: boolean;
  readonly grants: readonly Grant[];
  readonly createdAt: string;
}

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly siteIds?: readonly string[];
  readonly before?: unknown;
  readonly after?: unknown;
}

/** Objects as the API returns them: credentials removed, a `<name>Set` flag saying whether one is stored. */
export type Answered<T, S extends string = never> = Omit<T, S> & { [K in S as `${K}Set`]: boolean };

/** One saved configuration of a site (every write that changes what the site runs makes one). */
export interface RevisionSummary {
  readonly siteId: string;
  readonly revision: number;
  readonly contentHash: string;
  readonly reason: string;
  readonly actor: string;
  readonly createdAt: string;
}

/** An object present in both revisions whose top-level properties differ (credentials named, never shown). */
export interface ObjectChange {
  readonly id: string;
  readonly fields: readonly string[];
  readonly before: Record<string, unknown>;
  readonly after: Record<string, unknown>;
}

export interface CollectionDiff {
  readonly added: readonly (Record<string, unknown> & { id: string })[];
  readonly removed: readonly (Record<string, unknown> & { id: string })[];
  readonly changed: readonly ObjectChange[];
}

/** `GET /sites/:siteId/revisions/diff?from&to`: what changed in the objects the site owns. */
export interface RevisionDiff {
  readonly siteId: string;
  readonly from: RevisionSummary;
  readonly to: RevisionSummary;
  readonly site: Omit<ObjectChange, 'id'> | null;
  readonly collections: Record<string, CollectionDiff>;
}

/** An API token of the signed-in user (the token itself is answered once, on creation). */
export interface ApiTokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly username: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly readOnly: boolean;
  /** The subset of its user's grants it acts with; absent: all of them. */
  readonly grants?: readonly Grant[];
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
  readonly state: 'active' | 'expired' | 'revoked';
}

/** `GET /sites/:siteId/agent-credentials`: the agent's NATS users (never a secret) and where the hub stands. */
export interface AgentCredential {
  readonly userKey: string;
  readonly origin: 'enrollment' | 'renewal';
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly state: 'active' | 'expired' | 'revoked';
  readonly revokedAt?: string;
  readonly revokedBy?: string;
}
export interface AgentCredentialsPage {
  readonly items: readonly AgentCredential[];
  readonly alarm?: { readonly code: string; readonly severity: 'critical' | 'warning'; readonly message: string };
  readonly lifetimeSec: number;
  readonly revocation: RevocationPushState;
}
export interface AgentCredentialsRevocation {
  readonly dryRun: boolean;
  readonly revokedKeys: readonly string[];
  readonly rotatedLinks: readonly string[];
  readonly changedSites: readonly string[];
  readonly revocation: RevocationPushState;
}
