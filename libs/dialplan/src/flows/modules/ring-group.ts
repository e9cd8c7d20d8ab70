import type { NodeIssue } from '../flow-issues.js';
import { outcome, type FlowModule } from '../flow-module.js';
import { DIAL_OUTCOMES, dialNumbers, type DialOutcome } from './dial-extension.js';

/** When every member of a hunt failed: someone who rang unanswered beats busy, busy beats unavailable. */
const HUNT_RANK: Readonly<Record<DialOutcome, number>> = { answered: 3, noanswer: 2, busy: 1, unavailable: 0 };

/**
 * Rings a group through dial-extension's `dialNumbers`: `ringall` is one Dial with every member's targets;
 * `hunt` dials the members one after another, each for `timeoutSec`, until one answers or the caller hangs up.
 */
export const ringGroupModule: FlowModule<'ring-group'> = {
  type: 'ring-group',
  outcomes: () => DIAL_OUTCOMES,
  makesProgress: () => true,
  validate(node, ctx) {
    const issues: NodeIssue[] = [];
    const seen = new Set<string>();
    for (const member of node.members) {
      if (seen.has(member)) {
        issues.push({ code: 'duplicate-member', severity: 'warning', message: `member ${member} is listed twice`, data: { number: member } });
        continue;
      }
      seen.add(member);
      if (!ctx.extensionExists(ctx.flow.siteId, member)) {
        issues.push({ code: 'unknown-extension', severity: 'error', message: `member ${member} does not exist`, data: { number: member } });
      }
    }
    return issues;
  },
  async run(node, ctx) {
    if (node.strategy === 'ringall') {
      const r = await dialNumbers(ctx, node.members, node.timeoutSec);
      return outcome(r.outcome);
    }
    let best: DialOutcome = 'unavailable';
    for (const member of node.members) {
      const r = await dialNumbers(ctx, [member], node.timeoutSec);
      if (r.outcome === 'answered') return outcome('answered');
      if (HUNT_RANK[r.outcome] > HUNT_RANK[best]) best = r.outcome;
      if (r.callerHungUp) break;
    }
    return outcome(best);
  },
};
