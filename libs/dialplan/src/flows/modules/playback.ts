import { NEXT_ONLY, outcome, type FlowModule } from '../flow-module.js';

/** Answer and play a sound; `next` afterwards. Without a `next` edge the call ends after the sound, by design. */
export const playbackModule: FlowModule<'playback'> = {
  type: 'playback',
  outcomes: () => NEXT_ONLY,
  makesProgress: () => true,
  validate: () => [],
  async run(node, ctx) {
    await ctx.channel.answer();
    if (ctx.tracing) ctx.trace({ step: 'playback', detail: `play ${node.sound}`, data: { sound: node.sound } });
    await ctx.channel.playback(node.sound);
    return outcome('next');
  },
};
