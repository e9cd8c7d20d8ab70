import type { FederationIssue, ObjectRef } from '@fedpbx/dialplan';
import type { Scope } from '../access/scope.js';

/** What every admin may see of other sites: the federation numbering plan (sites and their number ranges). */
const NUMBERING_PLAN: ReadonlySet<string> = new Set(['site', 'numberRange']);

/**
 * Issues as the caller may see them: objects outside the caller's sites that are not part of the federation
 * numbering plan keep only their type and site, and the message (which may name them) becomes generic.
 */
export function redactIssues(issues: readonly FederationIssue[], scope: Scope): FederationIssue[] {
  if (scope.headOffice) return [...issues];
  return issues.map((issue) => {
    let hidden = false;
    const objects = issue.objects.map((o): ObjectRef => {
      if (NUMBERING_PLAN.has(o.type) || (o.siteId !== undefined && scope.canRead(o.siteId))) return o;
      hidden = true;
      return { type: o.type, id: '(hidden)', ...(o.siteId !== undefined ? { siteId: o.siteId } : {}) };
    });
    return hidden ? { ...issue, objects, message: `${issue.code}: conflicts with an object outside your sites` } : { ...issue, objects };
  });
}
