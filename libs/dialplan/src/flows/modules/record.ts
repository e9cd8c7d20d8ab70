import { NEXT_ONLY, outcome, type FlowModule } from '../flow-module.js';

/** Start recording the call and carry on with `next`. */
export const recordModule: FlowModule<'record'> = {
  type: 'record',
  outcomes: () => NEXT_ONLY,
  makesProgress: () => false,
  validate: (node) =>
    node.next.next === undefined ? [{ code: 'missing-outcome', severity: 'warning', message: 'recording starts and the call ends at once: no next edge', data: { expected: 'next' } }] : [],
  async run(_node, ctx) {
    ctx.trace({ step: 'record', detail: 'start recording' });
    await ctx.channel.startRecording();
    return outcome('next');
  },
};
