import type { NodeIssue } from '../flow-issues.js';
import type { FlowModule } from '../flow-module.js';

/** Continue at the entry of another flow of the same site. */
export const gotoFlowModule: FlowModule<'goto-flow'> = {
  type: 'goto-flow',
  outcomes: () => [],
  makesProgress: () => false,
  validate(node, ctx) {
    const issues: NodeIssue[] = [];
    const target = ctx.getFlow(node.flowId);
    if (target === undefined) {
      issues.push({ code: 'goto-missing-flow', severity: 'error', message: `flow ${node.flowId} does not exist`, data: { targetFlowId: node.flowId } });
    } else if (target.siteId !== ctx.flow.siteId) {
      issues.push({
        code: 'goto-foreign-flow',
        severity: 'error',
        message: `flow ${node.flowId} belongs to site ${target.siteId}, not ${ctx.flow.siteId}`,
        data: { targetFlowId: node.flowId, targetSiteId: target.siteId },
      });
    }
    return issues;
  },
  run: (node) => Promise.resolve({ kind: 'goto', flowId: node.flowId }),
};
