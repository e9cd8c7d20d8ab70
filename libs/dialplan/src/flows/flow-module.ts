import type { CallFlow, FlowNodeOf, FlowNodeType, FlowOutcome, TraceStep } from '@fedpbx/contracts';
import type { FlowContext } from './call-channel.js';
import type { NodeIssue } from './flow-issues.js';

/** What running one node produced. */
export type ModuleResult =
  /** Follow the node's edge for this outcome (the flow ends when there is none). */
  | { readonly kind: 'outcome'; readonly outcome: FlowOutcome }
  /** Continue at the entry of another flow of the same site. */
  | { readonly kind: 'goto'; readonly flowId: string }
  /** The node ended the call. */
  | { readonly kind: 'hangup' };

/** The context a module runs in: the call's context plus where in the flows the run is. */
export interface FlowRunContext extends FlowContext {
  readonly flow: CallFlow;
  /** Always present (a no-op when the caller gave no tracer), so modules never check. */
  trace(step: TraceStep): void;
  /** Whether a tracer listens: a module skips making a step's text and data when none does. */
  readonly tracing: boolean;
}

/** What a module may consult when it validates its node. */
export interface FlowValidationContext {
  readonly flow: CallFlow;
  getFlow(flowId: string): CallFlow | undefined;
  /** Whether a call placed at `siteId` to internal `number` reaches an extension (local or at another site). */
  extensionExists(siteId: string, number: string): boolean;
  /** Whether `siteId` itself has mailbox `number` (an extension of that site with voicemail). */
  mailboxExists(siteId: string, number: string): boolean;
}

/**
 * One job of the dialplan: the code behind one node type. Modules are plain stateless objects, built once and
 * registered once (`FlowModuleRegistry`); a call only passes data through them. A module that needs another's
 * job calls that module's exported function (ring-group dials through `dialNumbers` of dial-extension).
 */
export interface FlowModule<T extends FlowNodeType> {
  readonly type: T;
  /** Every outcome `run` can produce for this node; an edge keyed by anything else is a mistake. */
  outcomes(node: FlowNodeOf<T>): readonly FlowOutcome[];
  /**
   * True when the node takes time with the caller on the line - rings someone, plays something or waits for
   * input - so a loop through it is a (possibly deliberate) loop in time, not a spin. See flow-validator.ts ("progress").
   */
  makesProgress(node: FlowNodeOf<T>): boolean;
  /** Rules particular to this node type (missing outcomes, unknown extensions, bad schedules, ...). */
  validate(node: FlowNodeOf<T>, ctx: FlowValidationContext): readonly NodeIssue[];
  run(node: FlowNodeOf<T>, ctx: FlowRunContext): Promise<ModuleResult>;
}

/** One module per node type, checked complete by the compiler. */
export type FlowModuleSet = { readonly [T in FlowNodeType]: FlowModule<T> };

/** `next` is the outcome of nodes that do one thing and carry on. */
export const NEXT_ONLY: readonly FlowOutcome[] = ['next'];
export const outcome = (o: FlowOutcome): ModuleResult => ({ kind: 'outcome', outcome: o });
