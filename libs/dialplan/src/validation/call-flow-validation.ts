import type { Federation } from '@fedpbx/contracts';
import { validateCallFlows } from '../flows/index.js';
import { NumberingPlan } from '../numbering/numbering-plan.js';
import type { FederationIssue } from './federation-issues.js';

/**
 * The flow validator, fed with the whole federation: a flow's dial targets and mailboxes are judged through the
 * numbering plan (a ring group may ring a number at another site). Flow issues are reported as `call-flow`
 * federation issues whose `detail` is the flow validator's own code.
 */
export function validateFederationFlows(fed: Federation): FederationIssue[] {
  const plan = new NumberingPlan(fed.sites, fed.numberRanges);
  const numbers = new Map<string, Set<string>>();
  for (const e of fed.extensions) {
    let set = numbers.get(e.siteId);
    if (set === undefined) numbers.set(e.siteId, (set = new Set()));
    set.add(e.number);
  }
  const extensionExists = (siteId: string, number: string): boolean => {
    const target = plan.classify(siteId, number);
    if (target === undefined || target.kind === 'prefix-unassigned') return false;
    return numbers.get(target.siteId)?.has(target.number) === true;
  };
  const siteOf = new Map(fed.callFlows.map((f) => [f.id, f.siteId]));
  return validateCallFlows(fed.callFlows, { extensionExists }).map((i) => {
    const siteId = siteOf.get(i.flowId);
    return {
      code: 'call-flow',
      severity: i.severity,
      detail: i.code,
      message: `call flow ${i.flowId}${i.nodeId !== undefined ? `, node ${i.nodeId}` : ''}: ${i.message}`,
      objects: [{ type: 'callFlow', id: i.flowId, ...(siteId !== undefined ? { siteId } : {}) }],
    };
  });
}
