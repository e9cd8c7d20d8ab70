import type { CallFlow, FlowNode, FlowNodeType, FlowOutcome, TraceStep } from '@fedpbx/contracts';
import type { FlowContext } from './call-channel.js';
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
    const trace = (step: TraceStep): void => ctx.trace?.(step);
    const visited: VisitedNode[] = [];
    let lastOutcome: FlowOutcome | undefined;
    let steps = 0;

    const finish = async (end: FlowEndReason, detail: string, data: Record<string, unknown> = {}): Promise<FlowRunResult> => {
      trace({ step: 'flow-end', detail, data: { end, ...data } });
      if (!ctx.channel.isHungUp()) await ctx.channel.hangup();
      const result: FlowRunResult = { flowId, end, visited, steps };
      return lastOutcome === undefined ? result : { ...result, lastOutcome };
    };

    let flow = ctx.getFlow(flowId);
    if (flow === undefined) return finish('missing-flow', `flow ${flowId} does not exist`, { flowId });
    trace({ step: 'flow', detail: `flow ${flow.id} (${flow.name})`, data: { flowId: flow.id, entry: flow.entry } });
    let node = findNode(flow, flow.entry);
    if (node === undefined) return finish('missing-node', `flow ${flow.id} has no entry node ${flow.entry}`, { flowId: flow.id, nodeId: flow.entry });

    for (;;) {
      if (ctx.channel.isHungUp()) return finish('caller-hangup', 'the caller hung up', { flowId: flow.id, nodeId: node.id });
      if (steps >= this.maxSteps) {
        return finish('step-limit', `stopped after ${steps} steps (limit ${this.maxSteps})`, { flowId: flow.id, nodeId: node.id });
      }
      steps++;
      trace({ step: 'node', detail: `${node.id} (${node.type})${node.label === undefined ? '' : `: ${node.label}`}`, data: { flowId: flow.id, nodeId: node.id, type: node.type } });
      const runCtx: FlowRunContext = {
        channel: ctx.channel,
        now: ctx.now,
        flow,
        resolveExtension: (n) => ctx.resolveExtension(n),
        resolveFailover: (n) => ctx.resolveFailover?.(n),
        getFlow: (id) => ctx.getFlow(id),
        trace,
      };
      const result = await this.registry.run(node, runCtx);

      switch (result.kind) {
        case 'hangup':
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type });
          return finish('hangup-node', `hung up at ${node.id}`, { flowId: flow.id, nodeId: node.id });
        case 'goto': {
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type });
          const target = ctx.getFlow(result.flowId);
          if (target === undefined) return finish('missing-flow', `flow ${result.flowId} does not exist`, { flowId: result.flowId });
          if (target.siteId !== flow.siteId) {
            return finish('foreign-flow', `flow ${target.id} belongs to site ${target.siteId}`, { flowId: target.id, siteId: target.siteId });
          }
          trace({ step: 'goto', detail: `continue in flow ${target.id} (${target.name})`, data: { from: flow.id, flowId: target.id, entry: target.entry } });
          flow = target;
          node = findNode(flow, flow.entry);
          if (node === undefined) return finish('missing-node', `flow ${flow.id} has no entry node ${flow.entry}`, { flowId: flow.id, nodeId: flow.entry });
          break;
        }
        case 'outcome': {
          visited.push({ flowId: flow.id, nodeId: node.id, type: node.type, outcome: result.outcome });
          lastOutcome = result.outcome;
          if (ctx.channel.isHungUp()) {
            return finish('caller-hangup', `the caller hung up at ${node.id}`, { flowId: flow.id, nodeId: node.id, outcome: result.outcome });
          }
          const nextId = edge(node, result.outcome);
          if (nextId === undefined) {
            return finish('no-edge', `${node.id}: ${result.outcome}, no edge: end of flow`, { flowId: flow.id, nodeId: node.id, outcome: result.outcome });
          }
          trace({ step: 'outcome', detail: `${node.id}: ${result.outcome} -> ${nextId}`, data: { flowId: flow.id, nodeId: node.id, outcome: result.outcome, next: nextId } });
          const next = findNode(flow, nextId);
          if (next === undefined) {
            return finish('missing-node', `${node.id}: ${result.outcome} leads to missing node ${nextId}`, { flowId: flow.id, nodeId: nextId });
          }
          node = next;
          break;
        }
      }
    }
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
