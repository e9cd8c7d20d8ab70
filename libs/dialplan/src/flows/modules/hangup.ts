import type { FlowModule } from '../flow-module.js';

export const hangupModule: FlowModule<'hangup'> = {
  type: 'hangup',
  outcomes: () => [],
  makesProgress: () => false,
  validate: () => [],
  async run(_node, ctx) {
    await ctx.channel.hangup();
    return { kind: 'hangup' };
  },
};
