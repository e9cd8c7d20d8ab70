import type { FlowOutcome } from '@fedpbx/contracts';
import type { DialOptions, DialStatus, DialTarget } from '../call-channel.js';
import type { NodeIssue } from '../flow-issues.js';
import { outcome, type FlowModule, type FlowRunContext } from '../flow-module.js';

export type DialOutcome = 'answered' | 'busy' | 'noanswer' | 'unavailable';
export const DIAL_OUTCOMES: readonly FlowOutcome[] = ['answered', 'busy', 'noanswer', 'unavailable'];

/**
 * DIALSTATUS -> flow outcome. CANCEL (the caller gave up while it rang) counts as noanswer; everything that
 * means "could not ring at all" (CONGESTION, CHANUNAVAIL, privacy refusals, bad arguments) is unavailable.
 */
export function dialStatusOutcome(status: DialStatus): DialOutcome {
  switch (status) {
    case 'ANSWER':
      return 'answered';
    case 'BUSY':
      return 'busy';
    case 'NOANSWER':
    case 'CANCEL':
      return 'noanswer';
    case 'CONGESTION':
    case 'CHANUNAVAIL':
    case 'DONTCALL':
    case 'TORTURE':
    case 'INVALIDARGS':
      return 'unavailable';
  }
}

export interface DialNumbersResult {
  readonly outcome: DialOutcome;
  /** Absent when nothing was dialled (no number resolved to a target). */
  readonly status?: DialStatus;
  readonly targets: readonly DialTarget[];
  /** Numbers the resolver did not know. */
  readonly unknown: readonly string[];
  readonly callerHungUp: boolean;
}

/**
 * The one place that rings people: resolves each internal number to its targets (local or at another site,
 * as the injected resolver decides) and rings all of them at once in one Dial. Numbers that resolve to nothing
 * are skipped; when none resolves the result is `unavailable` without dialling.
 */
export async function dialNumbers(ctx: FlowRunContext, numbers: readonly string[], timeoutSec: number): Promise<DialNumbersResult> {
  const targets: DialTarget[] = [];
  const unknown: string[] = [];
  for (const number of numbers) {
    // The agent's resolver answers at once: awaited only when it gives a promise.
    const given = ctx.resolveExtension(number);
    const resolved = isPromiseLike(given) ? await given : given;
    if (resolved === undefined || resolved.length === 0) unknown.push(number);
    else targets.push(...resolved);
  }
  if (unknown.length > 0 && ctx.tracing) {
    ctx.trace({ step: 'dial-unknown', detail: `no target for ${unknown.join(', ')}`, data: { numbers: unknown } });
  }
  if (targets.length === 0) {
    return { outcome: 'unavailable', targets, unknown, callerHungUp: ctx.channel.isHungUp() };
  }
  let result = await ctx.channel.dial(targets, timeoutSec, TRANSFER);
  let dialOutcome = dialStatusOutcome(result.status);
  if (ctx.tracing) ctx.trace({
    step: 'dial',
    detail: `dial ${numbers.join(' & ')} for ${timeoutSec}s: ${result.status}${result.callerHungUp ? ' (caller hung up)' : ''}`,
    data: { numbers: [...numbers], targets, timeoutSec, status: result.status, outcome: dialOutcome },
  });
  // One number that failed as a route is tried the way a phone dialling it would be next (the PSTN when the
  // inter-site link fails). Several numbers rung at once share one DIALSTATUS, which cannot say whose route
  // failed: a group is not failed over.
  const only = numbers.length === 1 ? numbers[0] : undefined;
  if (only !== undefined && ROUTE_FAILURES.has(result.status) && !result.callerHungUp) {
    for (const alternative of ctx.resolveFailover?.(only) ?? []) {
      if (ctx.channel.isHungUp()) break;
      result = await ctx.channel.dial([alternative], timeoutSec, TRANSFER);
      dialOutcome = dialStatusOutcome(result.status);
      if (ctx.tracing) ctx.trace({
        step: 'dial-failover',
        detail: `dial ${only} again through ${alternative.endpoint} for ${timeoutSec}s: ${result.status}${result.callerHungUp ? ' (caller hung up)' : ''}`,
        data: { numbers: [only], targets: [alternative], timeoutSec, status: result.status, outcome: dialOutcome },
      });
      if (!ROUTE_FAILURES.has(result.status) || result.callerHungUp) break;
    }
  }
  return { outcome: dialOutcome, status: result.status, targets, unknown, callerHungUp: result.callerHungUp || ctx.channel.isHungUp() };
}

const TRANSFER: DialOptions = Object.freeze({ allowTransfer: true });

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** Dial statuses of a route that failed (the link or trunk), not of a callee who did not answer. */
const ROUTE_FAILURES: ReadonlySet<DialStatus> = new Set<DialStatus>(['CONGESTION', 'CHANUNAVAIL']);

export const dialExtensionModule: FlowModule<'dial-extension'> = {
  type: 'dial-extension',
  outcomes: () => DIAL_OUTCOMES,
  makesProgress: () => true,
  validate(node, ctx) {
    const issues: NodeIssue[] = [];
    if (!ctx.extensionExists(ctx.flow.siteId, node.number)) {
      issues.push({ code: 'unknown-extension', severity: 'error', message: `extension ${node.number} does not exist`, data: { number: node.number } });
    }
    return issues;
  },
  async run(node, ctx) {
    const r = await dialNumbers(ctx, [node.number], node.timeoutSec);
    return outcome(r.outcome);
  },
};
