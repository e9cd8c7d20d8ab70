/**
 * Answers of the controller's REST API that are not federation objects, as types only (no schema code: the
 * console imports them and ships nothing of them). The controller's services declare their answers with these,
 * so the console and the controller cannot drift apart.
 */

/** An object a validation finding names; `id` is `(hidden)` when it is outside the caller's sites. */
export interface IssueObjectRef {
  readonly type: string;
  readonly id: string;
  readonly siteId?: string;
}

/** One finding of the controller's whole-federation validation (libs/dialplan's FederationIssue has this shape). */
export interface ValidationIssue<Code extends string = string> {
  readonly code: Code;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly objects: readonly IssueObjectRef[];
  readonly span?: { readonly from: string; readonly to: string };
  /** A sub-code for `call-flow` issues (from the flow validator). */
  readonly detail?: string;
}

export interface WriteValidation<Issue = ValidationIssue> {
  readonly ok: boolean;
  /** Every error. */
  readonly errors: readonly Issue[];
  /** The first warnings (20): `warningCount` says how many there are, `GET /api/v1/warnings` lists them all. */
  readonly warnings: readonly Issue[];
  readonly warningCount: number;
  /** Every warning counted by its code. */
  readonly warningsByCode: Readonly<Record<string, number>>;
}

/**
 * What every federation write answers; with `?dryRun=true` it is the impact preview (nothing saved): for a delete,
 * the errors name what would break without the object.
 */
export interface WriteAnswer<T = Record<string, unknown>, Issue = ValidationIssue> {
  readonly dryRun: boolean;
  /** The object after the write (absent after a delete). */
  readonly data?: T;
  readonly validation: WriteValidation<Issue>;
  /** Sites whose configuration changes (would change, for a dry run). */
  readonly changedSites: readonly string[];
  /** Revisions written (none for a dry run). */
  readonly revisions: readonly { readonly siteId: string; readonly revision: number }[];
}

/** Whether the NATS hub has every revocation of agent credentials. */
export interface RevocationPushState {
  readonly state: 'current' | 'pending' | 'failing' | 'unavailable';
  /** How many user keys are revoked in the account's JWT. */
  readonly revokedKeys: number;
  readonly lastPushedAt?: string;
  readonly lastError?: string;
  /** Why revocations cannot be pushed at all (`unavailable`). */
  readonly reason?: string;
}

/** What a decommission removes, changes and revokes. */
export interface DecommissionPlan {
  readonly numberRanges: readonly string[];
  readonly extensions: readonly { readonly id: string; readonly number: string }[];
  readonly trunks: readonly string[];
  readonly links: readonly string[];
  readonly inboundRoutes: readonly string[];
  readonly callFlows: readonly string[];
  /** Routes used only by this site or left without a trunk: removed. */
  readonly outboundRoutesRemoved: readonly string[];
  /** Routes that lose this site from their sites, or its trunks from their trunk list. */
  readonly outboundRoutesChanged: readonly string[];
  /** The site was the federation's hub: the federation has none afterwards. */
  readonly hubCleared: boolean;
  /** Other links whose secret equals one this site held (reused by hand): replaced. */
  readonly rotatedLinks: readonly string[];
  /** Sites whose links to this site go (their snapshots change). */
  readonly peers: readonly string[];
}

/** `POST /api/v1/sites/:siteId/decommission[?dryRun=true]`. */
export interface DecommissionOutcome<Issue = ValidationIssue> {
  readonly dryRun: boolean;
  readonly siteId: string;
  readonly removes: DecommissionPlan;
  /** Agent credentials revoked (that would be, for a dry run). */
  readonly revokedKeys: readonly string[];
  /** The site's config bucket, removed from NATS by the snapshot publisher once the write commits. */
  readonly bucket: string;
  readonly validation: WriteValidation<Issue>;
  /**
   * Objects of other sites that still need this site (a call flow dialling one of its extensions...): the
   * validation errors name them. They are never changed behind their site's back; the decommission is refused
   * (409) until they are edited.
   */
  readonly blockers: readonly { readonly type: string; readonly id: string; readonly siteId?: string; readonly message: string }[];
  readonly changedSites: readonly string[];
  readonly revisions: readonly { readonly siteId: string; readonly revision: number }[];
  readonly revocation: RevocationPushState;
}
