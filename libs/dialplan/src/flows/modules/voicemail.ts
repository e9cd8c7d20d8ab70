import type { NodeIssue } from '../flow-issues.js';
import { NEXT_ONLY, outcome, type FlowModule } from '../flow-module.js';

/** Leave a message in `mailbox`; `next` afterwards (usually nothing, and the call ends). */
export const voicemailModule: FlowModule<'voicemail'> = {
  type: 'voicemail',
  outcomes: () => NEXT_ONLY,
  makesProgress: () => true,
  validate(node, ctx) {
    const issues: NodeIssue[] = [];
    if (!ctx.mailboxExists(ctx.flow.siteId, node.mailbox)) {
      issues.push({
        code: 'unknown-mailbox',
        severity: 'error',
        message: `mailbox ${node.mailbox} does not exist at ${ctx.flow.siteId} (no extension ${node.mailbox} there with voicemail)`,
        data: { mailbox: node.mailbox },
      });
    }
    return issues;
  },
  async run(node, ctx) {
    if (ctx.tracing) ctx.trace({ step: 'voicemail', detail: `voicemail for ${node.mailbox}`, data: { mailbox: node.mailbox } });
    await ctx.channel.voicemail(node.mailbox);
    return outcome('next');
  },
};
