import { z } from 'zod';
import { nameOf } from './names.js';
import { CallerIdName, Digits, ObjectId, SiteId } from './primitives.js';
import { TimeSchedule } from './schedule.js';

/** Outcomes that join flow nodes. `digit:<d>` is an IVR choice. */
export const FLOW_OUTCOMES = ['answered', 'busy', 'noanswer', 'unavailable', 'timeout', 'invalid', 'match', 'nomatch', 'next'] as const;
export const FlowOutcome = z.union([z.enum(FLOW_OUTCOMES), z.string().regex(/^digit:[0-9*#]$/, 'digit:<0-9 * #>')]);
export type FlowOutcome = z.infer<typeof FlowOutcome>;

export const NodeId = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,39}$/, 'a node id is 1-40 characters: a letter, then A-Z a-z 0-9 _ -');

/** A sound file name as Asterisk's Playback takes it (no extension, no `..`). */
export const SoundName = z
  .string()
  .regex(/^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_/-]{0,99}$/, 'a sound name: A-Z a-z 0-9 _ - / (no extension, no ..)');

/**
 * What a node does and where it leads: the routing the agents run. Where the console draws a node is not here
 * (CallFlowLayout): moving a box must not change a site's snapshot nor roll out.
 */
const base = {
  id: NodeId,
  /** Outgoing edges by outcome. */
  next: z.record(FlowOutcome, NodeId).default({}),
  label: nameOf(80).optional(),
};

export const DialExtensionNode = z.strictObject({
  ...base,
  type: z.literal('dial-extension'),
  number: Digits,
  timeoutSec: z.number().int().min(1).max(600).default(20),
});
export const RingGroupNode = z.strictObject({
  ...base,
  type: z.literal('ring-group'),
  members: z.array(Digits).min(1).max(64),
  /** ringall: all at once; hunt: one after another in order. */
  strategy: z.enum(['ringall', 'hunt']).default('ringall'),
  timeoutSec: z.number().int().min(1).max(600).default(30),
});
export const IvrMenuNode = z.strictObject({
  ...base,
  type: z.literal('ivr-menu'),
  prompt: SoundName,
  invalidPrompt: SoundName.optional(),
  timeoutSec: z.number().int().min(1).max(60).default(5),
  /** How many times the menu is offered again after a timeout or an invalid choice. */
  retries: z.number().int().min(0).max(5).default(2),
});
export const TimeConditionNode = z.strictObject({ ...base, type: z.literal('time-condition'), schedule: TimeSchedule });
export const VoicemailNode = z.strictObject({ ...base, type: z.literal('voicemail'), mailbox: Digits });
export const PlaybackNode = z.strictObject({ ...base, type: z.literal('playback'), sound: SoundName });
export const RecordNode = z.strictObject({ ...base, type: z.literal('record') });
export const SetCallerIdNode = z.strictObject({
  ...base,
  type: z.literal('set-caller-id'),
  name: CallerIdName.optional(),
  /** Digits put in front of the caller's number (e.g. a queue tag). */
  numberPrefix: z.string().regex(/^[0-9]{0,8}$/).optional(),
});
export const GotoFlowNode = z.strictObject({ ...base, type: z.literal('goto-flow'), flowId: ObjectId });
export const HangupNode = z.strictObject({ ...base, type: z.literal('hangup') });

export const FlowNode = z.discriminatedUnion('type', [
  DialExtensionNode,
  RingGroupNode,
  IvrMenuNode,
  TimeConditionNode,
  VoicemailNode,
  PlaybackNode,
  RecordNode,
  SetCallerIdNode,
  GotoFlowNode,
  HangupNode,
]);
export type FlowNode = z.infer<typeof FlowNode>;
export type FlowNodeType = FlowNode['type'];
export type FlowNodeOf<T extends FlowNodeType> = Extract<FlowNode, { type: T }>;

export const CallFlow = z.strictObject({
  id: ObjectId,
  siteId: SiteId,
  name: nameOf(80),
  /** An internal number (inside the site's ranges) that runs this flow when dialled. */
  number: Digits.optional(),
  entry: NodeId,
  nodes: z.array(FlowNode).min(1).max(500),
});
export type CallFlow = z.infer<typeof CallFlow>;

/** A point on the console's flow canvas. */
export const LayoutPosition = z.strictObject({
  x: z.number().min(-1_000_000).max(1_000_000),
  y: z.number().min(-1_000_000).max(1_000_000),
});
export type LayoutPosition = z.infer<typeof LayoutPosition>;

/**
 * Where the console draws a flow's nodes (`PUT /api/v1/call-flows/{id}/layout`): console metadata the controller
 * stores beside the flow, never part of a snapshot, so saving it makes no revision and no rollout. Nodes left out
 * are placed by the console's automatic layout.
 */
export const CallFlowLayout = z.strictObject({
  nodes: z.record(NodeId, LayoutPosition).refine((n) => Object.keys(n).length <= 500, 'at most 500 nodes'),
});
export type CallFlowLayout = z.infer<typeof CallFlowLayout>;
