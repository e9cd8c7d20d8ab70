import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';

export interface Point {
  readonly x: number;
  readonly y: number;
}
export interface Box extends Point {
  readonly width: number;
  readonly height: number;
}

/** A node as drawn: its size and where its connection points are (relative to its top-left corner). */
export interface LayoutNode {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  /** The incoming connection point (top). */
  readonly input: Point;
  /** Outgoing connection points by outcome (bottom). */
  readonly outputs: ReadonlyMap<string, Point>;
}
export interface LayoutEdge {
  readonly id: string;
  readonly source: string;
  readonly outcome: string;
  readonly target: string;
  /** The label's text and size as it will be drawn. */
  readonly label: { readonly text: string; readonly width: number; readonly height: number };
}
/** An edge's route through the placed nodes, and its label's box (flow coordinates). */
export interface EdgeRoute {
  readonly points: readonly Point[];
  readonly label: Box;
}
export interface FlowLayout {
  /** Top-left corner of each node. */
  readonly positions: ReadonlyMap<string, Point>;
  readonly routes: ReadonlyMap<string, EdgeRoute>;
}

/**
 * ELK's layered algorithm: steps in layers from the start down, edges routed orthogonally around the nodes, and
 * each edge's label placed by the layout itself (ELK turns a centre label into a dummy node of its layer, so no
 * label lands on a node or on another label). The connection points are fixed ports where the handles are drawn,
 * so the routes start and end exactly at them.
 */
const LAYOUT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.spacing.nodeNode': '48',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.edgeNode': '18',
  'elk.layered.spacing.edgeNodeBetweenLayers': '18',
  'elk.spacing.edgeEdge': '12',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '10',
  'elk.spacing.edgeLabel': '6',
  'elk.spacing.labelLabel': '6',
  'elk.spacing.labelNode': '8',
  'elk.layered.edgeLabels.sideSelection': 'ALWAYS_DOWN',
};

type Elk = { layout(graph: ElkNode): Promise<ElkNode> };
let elk: Promise<Elk> | undefined;

/** ELK is loaded when a flow is first drawn (it is most of the editor's code). */
function loadElk(): Promise<Elk> {
  elk ??= import('elkjs/lib/elk.bundled.js').then(({ default: ELK }) => new ELK() as unknown as Elk);
  return elk;
}

export async function layoutFlow(nodes: readonly LayoutNode[], edges: readonly LayoutEdge[]): Promise<FlowLayout> {
  const portId = (node: string, port: string): string => `${node}::${port}`;
  const graph: ElkNode = {
    id: 'flow',
    layoutOptions: LAYOUT_OPTIONS,
    children: nodes.map((n) => ({
      id: n.id,
      width: n.width,
      height: n.height,
      layoutOptions: { 'elk.portConstraints': 'FIXED_POS' },
      ports: [
        // ELK puts a port on its side of the border, moved out by its border offset: where the handle is drawn.
        { id: portId(n.id, 'in'), x: n.input.x, y: n.input.y, width: 0, height: 0, layoutOptions: { 'elk.port.side': 'NORTH', 'elk.port.borderOffset': String(-n.input.y) } },
        ...[...n.outputs].map(([o, p]) => ({
          id: portId(n.id, o),
          x: p.x,
          y: p.y,
          width: 0,
          height: 0,
          layoutOptions: { 'elk.port.side': 'SOUTH', 'elk.port.borderOffset': String(p.y - n.height) },
        })),
      ],
    })),
    edges: edges.map(
      (e): ElkExtendedEdge => ({
        id: e.id,
        sources: [portId(e.source, e.outcome)],
        targets: [portId(e.target, 'in')],
        labels: [{ id: `${e.id}::label`, text: e.label.text, width: e.label.width, height: e.label.height, layoutOptions: { 'elk.edgeLabels.placement': 'CENTER' } }],
      }),
    ),
  };
  const out = await (await loadElk()).layout(graph);
  const positions = new Map<string, Point>((out.children ?? []).map((c) => [c.id, { x: c.x ?? 0, y: c.y ?? 0 }]));
  const routes = new Map<string, EdgeRoute>();
  for (const e of out.edges ?? []) {
    const section = e.sections?.[0];
    const label = e.labels?.[0];
    if (section === undefined || label === undefined) continue;
    routes.set(e.id, {
      points: [section.startPoint, ...(section.bendPoints ?? []), section.endPoint],
      label: { x: label.x ?? 0, y: label.y ?? 0, width: label.width ?? 0, height: label.height ?? 0 },
    });
  }
  return { positions, routes };
}

/** Whether two boxes share any area (touching edges do not count). */
export const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
