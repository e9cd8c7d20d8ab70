import type { CallFlow, FlowNode } from '@fedpbx/contracts';
import type { FlowIssue } from './flow-issues.js';
import { defaultFlowModuleRegistry, type FlowModuleRegistry } from './flow-module-registry.js';
import type { FlowValidationContext } from './flow-module.js';

export interface ValidateCallFlowsOptions {
  /**
   * Whether a call placed at `siteId` to internal `number` reaches an extension - at that site or, through the
   * numbering plan, at another one. Used for dial-extension numbers, ring-group members and voicemail mailboxes.
   */
  extensionExists(siteId: string, number: string): boolean;
  /**
   * Whether `siteId` has a mailbox `number` (an extension of that site with voicemail, rendered into its voicemail
   * include). Without it, a mailbox is judged by {@link extensionExists}.
   */
  mailboxExists?(siteId: string, number: string): boolean;
  readonly registry?: FlowModuleRegistry;
}

/**
 * Checks a set of call flows (normally all flows of the federation, so goto-flow targets can be judged) and
 * returns every issue found, errors and warnings, in a stable order: flow by flow, then the loops.
 *
 * Structure: duplicate flow / node ids, missing entry, edges to missing nodes (dangling), edges keyed by an
 * outcome the node's module never produces, nodes no path from the entry reaches (only edges that can be
 * taken count). Module rules come from each node's module (`FlowModule.validate`): missing essential outcomes,
 * unknown extensions and mailboxes, goto-flow targets, schedules.
 *
 * Progress: a node makes progress when it holds the call for real time with the caller on the line - it rings
 * someone (dial-extension, ring-group), plays something (playback), waits for a key (ivr-menu) or takes a
 * message (voicemail). time-condition, set-caller-id, record, goto-flow and hangup take no time. A cycle made
 * only of nodes without progress - within a flow or across flows through goto-flow - would spin through
 * `maxSteps` in a millisecond and cut the call off, so it is an error. A cycle through a progressing node is
 * allowed (a menu offered again after an announcement is a normal design); the interpreter's step limit still
 * bounds it at run time.
 */
export function validateCallFlows(flows: readonly CallFlow[], opts: ValidateCallFlowsOptions): FlowIssue[] {
  const registry = opts.registry ?? defaultFlowModuleRegistry;
  const issues: FlowIssue[] = [];

  const byId = new Map<string, CallFlow>();
  for (const flow of flows) {
    if (byId.has(flow.id)) {
      issues.push({ code: 'duplicate-flow-id', severity: 'error', flowId: flow.id, message: `flow id ${flow.id} is used by more than one flow` });
    } else {
      byId.set(flow.id, flow);
    }
  }
  const getFlow = (id: string): CallFlow | undefined => byId.get(id);

  for (const flow of byId.values()) {
    const nodes = nodesById(flow);
    const seen = new Set<FlowNode>(nodes.values());
    for (const node of flow.nodes) {
      if (!seen.has(node)) {
        issues.push({ code: 'duplicate-node-id', severity: 'error', flowId: flow.id, nodeId: node.id, message: `node id ${node.id} is used twice in flow ${flow.id}` });
      }
    }
    if (!nodes.has(flow.entry)) {
      issues.push({ code: 'entry-missing', severity: 'error', flowId: flow.id, nodeId: flow.entry, message: `entry ${flow.entry} is not a node of flow ${flow.id}` });
    }

    const ctx: FlowValidationContext = {
      flow,
      getFlow,
      extensionExists: (siteId, number) => opts.extensionExists(siteId, number),
      mailboxExists: (siteId, number) => (opts.mailboxExists !== undefined ? opts.mailboxExists(siteId, number) : opts.extensionExists(siteId, number)),
    };
    for (const node of flow.nodes) {
      const possible = registry.outcomes(node);
      for (const [o, target] of edges(node)) {
        if (!possible.includes(o)) {
          issues.push({
            code: 'impossible-outcome',
            severity: 'error',
            flowId: flow.id,
            nodeId: node.id,
            outcome: o,
            message: `a ${node.type} node never produces ${o}`,
            data: { possible: [...possible] },
          });
        }
        if (!nodes.has(target)) {
          issues.push({ code: 'dangling-edge', severity: 'error', flowId: flow.id, nodeId: node.id, outcome: o, message: `${o} leads to ${target}, which is not a node of the flow`, data: { target } });
        }
      }
      for (const issue of registry.validate(node, ctx)) issues.push({ ...issue, flowId: flow.id, nodeId: node.id });
    }

    if (nodes.has(flow.entry)) {
      const reached = reachable(flow, nodes, registry);
      for (const node of nodes.values()) {
        if (!reached.has(node.id)) {
          issues.push({ code: 'unreachable-node', severity: 'warning', flowId: flow.id, nodeId: node.id, message: `no path from the entry reaches ${node.id}` });
        }
      }
    }
  }

  issues.push(...noProgressLoops([...byId.values()], registry));
  return issues;
}

function nodesById(flow: CallFlow): Map<string, FlowNode> {
  const map = new Map<string, FlowNode>();
  for (const n of flow.nodes) if (!map.has(n.id)) map.set(n.id, n);
  return map;
}

function edges(node: FlowNode): [string, string][] {
  return Object.entries(node.next as Readonly<Record<string, string>>);
}

/** Edges the node's module can actually take, to nodes that exist. */
function takenEdges(node: FlowNode, nodes: ReadonlyMap<string, FlowNode>, registry: FlowModuleRegistry): FlowNode[] {
  const possible = registry.outcomes(node);
  const out: FlowNode[] = [];
  for (const [o, target] of edges(node)) {
    const t = nodes.get(target);
    if (t !== undefined && possible.includes(o)) out.push(t);
  }
  return out;
}

function reachable(flow: CallFlow, nodes: ReadonlyMap<string, FlowNode>, registry: FlowModuleRegistry): Set<string> {
  const reached = new Set<string>([flow.entry]);
  const stack = [flow.entry];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    for (const next of takenEdges(node, nodes, registry)) {
      if (!reached.has(next.id)) {
        reached.add(next.id);
        stack.push(next.id);
      }
    }
  }
  return reached;
}

interface Vertex {
  readonly flow: CallFlow;
  readonly node: FlowNode;
  readonly out: number[];
}

/**
 * Every cycle without progress lies inside the graph of non-progressing nodes (goto-flow joined to its target's
 * entry), so its strongly connected components with a cycle are exactly the no-progress loops. One issue per
 * loop and flow it passes through, naming the whole loop.
 */
function noProgressLoops(flows: readonly CallFlow[], registry: FlowModuleRegistry): FlowIssue[] {
  const vertices: Vertex[] = [];
  const index = new Map<CallFlow, Map<string, number>>();
  const nodeMaps = new Map<CallFlow, Map<string, FlowNode>>();
  const flowById = new Map(flows.map((f) => [f.id, f]));
  for (const flow of flows) {
    const nodes = nodesById(flow);
    nodeMaps.set(flow, nodes);
    const ids = new Map<string, number>();
    for (const node of nodes.values()) {
      if (registry.makesProgress(node)) continue;
      ids.set(node.id, vertices.length);
      vertices.push({ flow, node, out: [] });
    }
    index.set(flow, ids);
  }
  for (const v of vertices) {
    const nodes = nodeMaps.get(v.flow) ?? new Map<string, FlowNode>();
    const ids = index.get(v.flow);
    for (const t of takenEdges(v.node, nodes, registry)) {
      const w = ids?.get(t.id);
      if (w !== undefined) v.out.push(w);
    }
    if (v.node.type === 'goto-flow') {
      const target = flowById.get(v.node.flowId);
      if (target !== undefined && target.siteId === v.flow.siteId) {
        const w = index.get(target)?.get(target.entry);
        if (w !== undefined) v.out.push(w);
      }
    }
  }

  const issues: FlowIssue[] = [];
  for (const scc of stronglyConnected(vertices)) {
    const first = scc[0];
    if (first === undefined) continue;
    const isCycle = scc.length > 1 || (vertices[first]?.out.includes(first) ?? false);
    if (!isCycle) continue;
    const members = scc.map((i) => vertices[i]).filter((v): v is Vertex => v !== undefined);
    const cycle = members.map((v) => `${v.flow.id}/${v.node.id}`);
    const reported = new Set<CallFlow>();
    for (const v of members) {
      if (reported.has(v.flow)) continue;
      reported.add(v.flow);
      issues.push({
        code: 'no-progress-loop',
        severity: 'error',
        flowId: v.flow.id,
        nodeId: v.node.id,
        message: `loop without progress (nobody is rung, nothing is played, no key is awaited): ${cycle.join(' -> ')}`,
        data: { cycle },
      });
    }
  }
  return issues;
}

/** Tarjan's algorithm, iterative (flows may hold hundreds of nodes). Components come out with members in input order. */
function stronglyConnected(vertices: readonly Vertex[]): number[][] {
  const n = vertices.length;
  const order = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const result: number[][] = [];
  let counter = 0;

  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    const work: { v: number; i: number }[] = [{ v: root, i: 0 }];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const out = vertices[frame.v]?.out ?? [];
      if (frame.i < out.length) {
        const w = out[frame.i++] ?? 0;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push({ v: w, i: 0 });
        } else if (onStack[w]) {
          low[frame.v] = Math.min(low[frame.v] ?? 0, order[w] ?? 0);
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent.v] = Math.min(low[parent.v] ?? 0, low[frame.v] ?? 0);
      if (low[frame.v] === order[frame.v]) {
        const scc: number[] = [];
        for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
          onStack[w] = false;
          scc.push(w);
          if (w === frame.v) break;
        }
        result.push(scc.sort((a, b) => a - b));
      }
    }
  }
  return result;
}
