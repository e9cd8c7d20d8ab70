import type { FlowOutcome } from '@fedpbx/contracts';
import type { NodeIssue } from '../flow-issues.js';
import { outcome, type FlowModule } from '../flow-module.js';

/** The DTMF keys a caller can press. */
export const DTMF_DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'] as const;
const IVR_OUTCOMES: readonly FlowOutcome[] = [...DTMF_DIGITS.map((d): FlowOutcome => `digit:${d}`), 'timeout', 'invalid'];

export function isDigitOutcome(o: string): boolean {
  return o.startsWith('digit:');
}

/**
 * Offers the prompt and reads one key. A key with a `digit:<key>` edge is the outcome. A key without one is
 * invalid and no key is a timeout; either way the menu is offered again (after `invalidPrompt`, for an invalid
 * key) up to `retries` more times, and then the outcome is `invalid` or `timeout`, whichever the last try was.
 */
export const ivrMenuModule: FlowModule<'ivr-menu'> = {
  type: 'ivr-menu',
  outcomes: () => IVR_OUTCOMES,
  makesProgress: () => true,
  validate(node) {
    const issues: NodeIssue[] = [];
    if (!Object.keys(node.next).some(isDigitOutcome)) {
      issues.push({ code: 'missing-outcome', severity: 'error', message: 'the menu offers no choice: no digit:<key> edge', data: { expected: 'digit:*' } });
    }
    return issues;
  },
  async run(node, ctx) {
    const { channel } = ctx;
    await channel.answer();
    let last: 'timeout' | 'invalid' = 'timeout';
    for (let attempt = 0; attempt <= node.retries; attempt++) {
      if (attempt > 0 && last === 'invalid' && node.invalidPrompt !== undefined) {
        await channel.playback(node.invalidPrompt);
        if (channel.isHungUp()) return outcome(last);
      }
      const key = await channel.readDigit(node.prompt, node.timeoutSec);
      if (channel.isHungUp()) return outcome(last);
      if (key === 'timeout') {
        last = 'timeout';
      } else {
        const choice = `digit:${key}`;
        if (Object.hasOwn(node.next, choice)) {
          if (ctx.tracing) ctx.trace({ step: 'ivr', detail: `pressed ${key}`, data: { key, attempt } });
          return outcome(choice);
        }
        last = 'invalid';
      }
      if (ctx.tracing) ctx.trace({ step: 'ivr', detail: last === 'timeout' ? 'no key pressed' : `key ${String(key)} is not a choice`, data: { key, attempt, result: last } });
    }
    return outcome(last);
  },
};
