import type { FederationIssue, FederationIssueCode, ObjectRef } from '@fedpbx/dialplan';
import type { Scope } from '../access/scope.js';

/**
 * Conflicts inside the federation numbering plan, which every admin may read (GET /numbering-plan: sites, their
 * prefixes and ranges): in these, other sites and their ranges may be named.
 */
const NUMBERING_PLAN_CODES: ReadonlySet<FederationIssueCode> = new Set<FederationIssueCode>([
  'prefix-conflict',
  'range-overlap',
  'prefixed-number-collision',
  'range-hidden-from-site',
  'range-meets-prefix',
]);
const NUMBERING_PLAN_TYPES: ReadonlySet<string> = new Set(['site', 'numberRange']);

/** Whether the caller may see this object named in this issue. Classes of service are the same for every site. */
function visible(code: FederationIssueCode, o: ObjectRef, scope: Scope): boolean {
  if (o.type === 'classOfService') return true;
  if (NUMBERING_PLAN_CODES.has(code) && NUMBERING_PLAN_TYPES.has(o.type)) return true;
  const site = o.type === 'site' ? o.id : o.siteId;
  return site !== undefined && scope.canRead(site);
}

/**
 * Issues as the caller may see them (#17 §5: a caller learns nothing about objects outside their sites). An
 * issue that involves such an object keeps its code and the caller's own objects; the others become
 * `{ type, id: '(hidden)' }` (not even their site) and the message, which may name them or their values (a
 * tunnel address, a DID, an id), becomes generic. Numbering-plan conflicts still name other sites and ranges.
 */
export function redactIssues(issues: readonly FederationIssue[], scope: Scope): FederationIssue[] {
  if (scope.headOffice) return [...issues];
  return issues.map((issue) => {
    let hidden = false;
    const objects = issue.objects.map((o): ObjectRef => {
      if (visible(issue.code, o, scope)) return o;
      hidden = true;
      return { type: o.type, id: '(hidden)' };
    });
    if (!hidden) return { ...issue, objects };
    const { span: _span, ...rest } = issue;
    return { ...rest, objects, message: `${issue.code}: conflicts with something outside your sites` };
  });
}
