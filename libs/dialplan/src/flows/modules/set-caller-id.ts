import type { CallerId } from '../call-channel.js';
import { NEXT_ONLY, outcome, type FlowModule } from '../flow-module.js';

/** Set the caller ID name and/or put digits in front of the caller's number, then `next`. */
export const setCallerIdModule: FlowModule<'set-caller-id'> = {
  type: 'set-caller-id',
  outcomes: () => NEXT_ONLY,
  makesProgress: () => false,
  validate: (node) =>
    node.next.next === undefined ? [{ code: 'missing-outcome', severity: 'warning', message: 'the caller ID is set and the call ends at once: no next edge', data: { expected: 'next' } }] : [],
  async run(node, ctx) {
    const change: { name?: string; number?: string } = {};
    if (node.name !== undefined) change.name = node.name;
    if (node.numberPrefix !== undefined && node.numberPrefix !== '') {
      const current = ctx.channel.callerId().number ?? '';
      change.number = `${node.numberPrefix}${current}`;
    }
    const callerId: CallerId = change;
    if (ctx.tracing) ctx.trace({ step: 'caller-id', detail: `caller ID ${JSON.stringify(callerId)}`, data: { ...callerId } });
    if (callerId.name !== undefined || callerId.number !== undefined) await ctx.channel.setCallerId(callerId);
    return outcome('next');
  },
};
