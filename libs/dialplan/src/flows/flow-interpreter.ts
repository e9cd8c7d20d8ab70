import type { CallFlow, FlowNode, FlowNodeType, FlowOutcome, TraceStep } from '@fedpbx/contracts';
import type { DialTarget, FlowContext } from './call-channel.js';
import { defaultFlowModuleRegistry, type FlowModuleRegistry } from './flow-module-registry.js';
import type { FlowRunContext } from './flow-module.js';

/** Why a run stopped. */
export type FlowEndReason =
  /** A hangup node ended the call. */
  | 'hangup-node'
  /** The last node's outcome has no edge: the flow is over and the call is hung up. */
  | 'no-edge'
  /** The caller hung up. */
  | 'caller-hangup'
  /** `maxSteps` nodes ran without the flow ending: a loop the validator did not stop (or an unvalidated flow). */
  | 'step-limit'
  /** The flow to start or to go to does not exist. */
  | 'missing-flow'
  /** goto-flow to another site's flow. */
  | 'foreign-flow'
  /** An entry or edge names a node the flow does not have. */
  | 'missing-node';

export interface VisitedNode {
  readonly flowId: string;
  readonly nodeId: string;
  readonly type: FlowNodeType;
  /** What the node produced (absent for goto-flow and hangup). */
  readonly outcome?: FlowOutcome;
}

export interface FlowRunResult {
  readonly flowId: string;
  readonly end: FlowEndReason;
  /** The outcome of the last node that produced one. */
  readonly lastOutcome?: FlowOutcome;
  readonly visited: readonly VisitedNode[];
  /** Nodes run. */
  readonly steps: number;
}

export interface FlowInterpreterOptions {
  readonly registry?: FlowModuleRegistry;
  /** Nodes one call may run before it is cut off; a guard against loops at run time (default 200). */
  readonly maxSteps?: number;
}

export const DEFAULT_MAX_STEPS = 200;

/**
 * Runs call flows: from the entry, run the node's module, follow the edge for its outcome, until the flow or
 * the call ends. One interpreter serves every call (it holds no per-call state); each `run` gets the call's
 * context. Every step is reported to `ctx.trace`, so a call can be explained node by node. When the flow ends
 * with the caller still on the line, the interpreter hangs up. Errors thrown by the channel (transport
 * failures) propagate to the caller of `run`.
 */
export class FlowInterpreter {
  private readonly registry: FlowModuleRegistry;
  private readonly maxSteps: number;

  constructor(opts: FlowInterpreterOptions = {}) {
    this.registry = opts.registry ?? defaultFlowModuleRegistry;
    this.maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  }

  async run(flowId: string, ctx: FlowContext): Promise<FlowRunResult> {
    // Without a tracer no step's text and data are made (the agent runs flows without one, on every IVR call).
    const tracer = ctx.trace;
    const visited: VisitedNode[] = [];
    const state: RunState = { flowId, visited, steps: 0, lastOutcome: undefined };

    let flow = ctx.getFlow(flowId);
    if (flow === undefined) return finish(ctx, state, 'missing-flow', `flow ${flowId} does not exist`, { flowId });
    tracer?.({ step: 'flow', detail: `flow ${flow.id} (${flow.name})`, data: { flowId: flow.id, entry: flow.entry } });
    let node = findNode(flow, flow.entry);
    if (node === undefined) return finish(ctx, state, 'missing-node', `flow ${flow.id} has no entry node ${flow.entry}`, { flowId: flow.id, nodeId: flow.entry });
    // One context for the whole run, its flow moved along by goto-flow.
    const runCtx = new RunContext(ctx, flow);

    for (;;) {
      if (ctx.channel.isHungUp()) return finish(ctx, state, 'caller-hangup', 'the caller hung up', { flowId: flow.id, nodeId: node.id });
      if (state.steps >= this.maxSteps) {
        return finish(ctx, state, 'step-limit', `stopped after ${state.steps} steps (limit ${this.maxSteps})`, { flowId: flow.id, nodeId: node.id });
      }
      state.steps++;
      tracer?.({ step: 'node', detail: `${node.id} (${node.type})${node.label === undefined ? '' : `: ${node.label}`}`, data: { flowId: flow.id, nodeId: node.id, type: node.type } });
      runCtx.flow = flow;
      const result = await this.registry.run(node, runCtx);

      switch (result.kind) {
        case 'hangup':
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type });
          return finish(ctx, state, 'hangup-node', `hung up at ${node.id}`, { flowId: flow.id, nodeId: node.id });
        case 'goto': {
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type });
          const target = ctx.getFlow(result.flowId);
          if (target === undefined) return finish(ctx, state, 'missing-flow', `flow ${result.flowId} does not exist`, { flowId: result.flowId });
          if (target.siteId !== flow.siteId) {
            return finish(ctx, state, 'foreign-flow', `flow ${target.id} belongs to site ${target.siteId}`, { flowId: target.id, siteId: target.siteId });
          }
          tracer?.({ step: 'goto', detail: `continue in flow ${target.id} (${target.name})`, data: { from: flow.id, flowId: target.id, entry: target.entry } });
          flow = target;
          node = findNode(flow, flow.entry);
          if (node === undefined) return finish(ctx, state, 'missing-node', `flow ${flow.id} has no entry node ${flow.entry}`, { flowId: flow.id, nodeId: flow.entry });
          break;
        }
        case 'outcome': {
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type, outcome: result.outcome });
          state.lastOutcome = result.outcome;
          if (ctx.channel.isHungUp()) {
            return finish(ctx, state, 'caller-hangup', `the caller hung up at ${node.id}`, { flowId: flow.id, nodeId: node.id, outcome: result.outcome });
          }
          const nextId = edge(node, result.outcome);
          if (nextId === undefined) {
            return finish(ctx, state, 'no-edge', `${node.id}: ${result.outcome}, no edge: end of flow`, { flowId: flow.id, nodeId: node.id, outcome: result.outcome });
          }
          tracer?.({ step: 'outcome', detail: `${node.id}: ${result.outcome} -> ${nextId}`, data: { flowId: flow.id, nodeId: node.id, outcome: result.outcome, next: nextId } });
          const next = findNode(flow, nextId);
          if (next === undefined) {
            return finish(ctx, state, 'missing-node', `${node.id}: ${result.outcome} leads to missing node ${nextId}`, { flowId: flow.id, nodeId: nextId });
          }
          node = next;
          break;
        }
      }
    }
  }
}

/** What a run has done so far (for its result). */
interface RunState {
  readonly flowId: string;
  readonly visited: VisitedNode[];
  steps: number;
  lastOutcome: FlowOutcome | undefined;
}

/** The end of a run: traced, the call hung up unless it already is, and the result. */
async function finish(ctx: FlowContext, state: RunState, end: FlowEndReason, detail: string, data: Record<string, unknown>): Promise<FlowRunResult> {
  ctx.trace?.({ step: 'flow-end', detail, data: { end, ...data } });
  if (!ctx.channel.isHungUp()) await ctx.channel.hangup();
  const result: FlowRunResult = { flowId: state.flowId, end, visited: state.visited, steps: state.steps };
  return state.lastOutcome === undefined ? result : { ...result, lastOutcome: state.lastOutcome };
}

const NO_TRACE = (): void => undefined;

/** The context the modules of one run see: the call's, with the flow the run is in (one object per run). */
class RunContext implements FlowRunContext {
  readonly channel: FlowContext['channel'];
  readonly now: Date;
  readonly trace: (step: TraceStep) => void;
  readonly tracing: boolean;

  constructor(
    private readonly ctx: FlowContext,
    public flow: CallFlow,
  ) {
    this.channel = ctx.channel;
    this.now = ctx.now;
    this.tracing = ctx.trace !== undefined;
    this.trace = ctx.trace === undefined ? NO_TRACE : (step) => ctx.trace?.(step);
  }

  resolveExtension(number: string): ReturnType<FlowContext['resolveExtension']> {
    return this.ctx.resolveExtension(number);
  }

  resolveFailover(number: string): readonly DialTarget[] | undefined {
    return this.ctx.resolveFailover?.(number);
  }

  getFlow(flowId: string): CallFlow | undefined {
    return this.ctx.getFlow(flowId);
  }
}

/** Node lookup tables per flow object, made on first use: snapshots are immutable and shared by every call. */
const nodeIndex = new WeakMap<CallFlow, ReadonlyMap<string, FlowNode>>();

function findNode(flow: CallFlow, id: string): FlowNode | undefined {
  let index = nodeIndex.get(flow);
  if (index === undefined) {
    const byId = new Map<string, FlowNode>();
    // The first node with an id wins, as in the validator (which reports the duplicate).
    for (const n of flow.nodes) if (!byId.has(n.id)) byId.set(n.id, n);
    index = byId;
    nodeIndex.set(flow, index);
  }
  return index.get(id);
}

function edge(node: FlowNode, o: FlowOutcome): string | undefined {
  const next: Readonly<Record<string, string | undefined>> = node.next;
  return Object.hasOwn(next, o) ? next[o] : undefined;
}
