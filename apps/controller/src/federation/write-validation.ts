import type { WriteValidation } from '@fedpbx/contracts';
import type { FederationIssue } from '@fedpbx/dialplan';
import type { Scope } from '../access/scope.js';
import { redactIssues } from '../resources/issue-redaction.js';

/**
 * Warnings a write's answer lists; the rest are counted. A federation of 1,000 sites with a route for every site
 * through one site's trunk has ~1,000 standing warnings: listed in every write's answer they were ~0.5 MB of JSON
 * per write (and as many redactions for a site admin), the same list each time. `GET /api/v1/warnings` pages
 * through all of the current federation's.
 */
export const WARNINGS_LISTED = 20;

/** How many warnings there are, in all and by code. */
export interface WarningSummary {
  readonly warningCount: number;
  readonly warningsByCode: Readonly<Record<string, number>>;
}

export function warningSummary(warnings: readonly FederationIssue[]): WarningSummary {
  const byCode: Record<string, number> = {};
  for (const w of warnings) byCode[w.code] = (byCode[w.code] ?? 0) + 1;
  return { warningCount: warnings.length, warningsByCode: byCode };
}

/**
 * A write's validation as its answer gives it to the caller: every error, the first {@link WARNINGS_LISTED}
 * warnings, the warnings counted by code; what names objects outside the caller's sites redacted (#17 §5).
 */
export function answeredValidation(v: { readonly ok: boolean; readonly errors: readonly FederationIssue[]; readonly warnings: readonly FederationIssue[] }, scope: Scope): WriteValidation<FederationIssue> {
  return {
    ok: v.ok,
    errors: redactIssues(v.errors, scope),
    warnings: redactIssues(v.warnings.slice(0, WARNINGS_LISTED), scope),
    ...warningSummary(v.warnings),
  };
}
