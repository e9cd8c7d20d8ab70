import { MarkerType, type Edge, type Node } from '@xyflow/react';
import type { CallFlow, FlowNode, LayoutPosition } from '../api/types';
import { DIGITS, NODE_KINDS, outcomeLabel, type NodeBody } from './node-catalog';

export interface FlowNodeData extends Record<string, unknown> {
  readonly node: FlowNode;
  /** IVR keys offered (the menu's digit outcomes, connected or not). */
  readonly digits: readonly string[];
  readonly entry: boolean;
  /** Validation messages about this node from the server. */
  readonly issues: readonly string[];
  /** Drawn highlighted (the route tracer's path). */
  readonly highlighted?: boolean;
}
export type DiagramNode = Node<FlowNodeData, 'flow'>;

/** Edge ids are `<node>:<outcome>`: one outcome leads to one node. */
export const edgeId = (source: string, outcome: string): string => `${source}:${outcome}`;

/** An outcome's connection: one edge, one label (its outcome), drawn along the automatic layout's route. */
export function edgeOf(source: string, outcome: string, target: string): Edge {
  return { id: edgeId(source, outcome), source, sourceHandle: outcome, target, label: outcomeLabel(outcome), type: 'routed', markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 } };
}

/**
 * A stored flow as diagram nodes and edges, at its layout's positions (the ones a person placed); the others get
 * a provisional place in rows until the automatic layout has measured and placed them.
 */
export function toDiagram(flow: Pick<CallFlow, 'nodes' | 'entry'>, positions: Readonly<Record<string, LayoutPosition>> = {}): { nodes: DiagramNode[]; edges: Edge[] } {
  const nodes = flow.nodes.map((n, i): DiagramNode => {
    const digits = Object.keys(n.next).filter((o) => o.startsWith('digit:')).map((o) => o.slice(6));
    return {
      id: n.id,
      type: 'flow',
      position: positions[n.id] ?? { x: 40 + (i % 3) * 280, y: 40 + Math.floor(i / 3) * 200 },
      data: { node: n, digits: n.type === 'ivr-menu' && digits.length === 0 ? ['1'] : sortDigits(digits), entry: n.id === flow.entry, issues: [] },
    };
  });
  const edges = flow.nodes.flatMap((n) => Object.entries(n.next as Record<string, string>).map(([o, target]) => edgeOf(n.id, o, target)));
  return { nodes, edges };
}

/** The routing as the call-flow API takes it: each node's edges from the drawn connections (no positions). */
export function fromDiagram(nodes: readonly DiagramNode[], edges: readonly Edge[]): { nodes: FlowNode[]; entry: string | undefined } {
  const flowNodes = nodes.map((d): FlowNode => {
    const next: Record<string, string> = {};
    for (const e of edges) if (e.source === d.id && typeof e.sourceHandle === 'string') next[e.sourceHandle] = e.target;
    return { ...d.data.node, id: d.id, next } as FlowNode;
  });
  return { nodes: flowNodes, entry: nodes.find((n) => n.data.entry)?.id };
}

/** The layout the API stores: where a person placed nodes (the others are left to the automatic layout). */
export function layoutOf(nodes: readonly DiagramNode[], pinned: ReadonlySet<string>): Record<string, LayoutPosition> {
  return Object.fromEntries(nodes.filter((n) => pinned.has(n.id)).map((n) => [n.id, { x: Math.round(n.position.x), y: Math.round(n.position.y) }]));
}

/** A new node of `body`'s type with a free id (`menu1`, `menu2`, ...). */
export function newNode(body: NodeBody, existing: readonly { id: string }[], position: { x: number; y: number }, entry: boolean): DiagramNode {
  const prefix = NODE_KINDS[body.type].idPrefix;
  let n = 1;
  while (existing.some((e) => e.id === `${prefix}${n}`)) n++;
  const id = `${prefix}${n}`;
  const node = { ...body, id, next: {} } as FlowNode;
  return { id, type: 'flow', position, data: { node, digits: body.type === 'ivr-menu' ? ['1', '2'] : [], entry, issues: [] } };
}

export const sortDigits = (d: readonly string[]): string[] => [...new Set(d)].sort((a, b) => DIGITS.indexOf(a as (typeof DIGITS)[number]) - DIGITS.indexOf(b as (typeof DIGITS)[number]));

/**
 * Server findings placed on the nodes they concern: input problems by `nodes.<index>` path, and flow validation
 * issues, whose message names the node (`call flow f, node menu1: ...`). The rest concern the whole flow.
 */
export function placeIssues(
  order: readonly string[],
  problems: readonly { path: string; message: string }[],
  issues: readonly { message: string }[],
): { byNode: Map<string, string[]>; general: string[] } {
  const byNode = new Map<string, string[]>();
  const general: string[] = [];
  const add = (id: string, m: string): void => {
    byNode.set(id, [...(byNode.get(id) ?? []), m]);
  };
  for (const p of problems) {
    const m = /^nodes\.(\d+)(?:\.(.*))?$/.exec(p.path);
    const id = m !== null ? order[Number(m[1])] : undefined;
    if (id !== undefined) add(id, m?.[2] !== undefined && m[2] !== '' ? `${m[2]}: ${p.message}` : p.message);
    else general.push(p.path === '' ? p.message : `${p.path}: ${p.message}`);
  }
  for (const i of issues) {
    const m = /, node ([A-Za-z][A-Za-z0-9_-]*): (.*)$/.exec(i.message);
    if (m?.[1] !== undefined && order.includes(m[1])) add(m[1], m[2] ?? i.message);
    else general.push(i.message);
  }
  return { byNode, general };
}
