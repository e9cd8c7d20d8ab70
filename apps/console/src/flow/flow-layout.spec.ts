import { foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { routeEdges, type PlacedNode } from './edge-router';
import { layoutFlow, overlaps, type Box, type EdgeRoute, type LayoutEdge, type LayoutNode, type Point } from './flow-layout';
import { outcomeLabel, outcomesOf } from './node-catalog';

/** The demo's seven-step reception flow, with nodes and labels the size the console draws them. */
function receptionFlow(): { nodes: LayoutNode[]; edges: LayoutEdge[] } {
  const flow = foundingScenario().callFlows.find((f) => f.id === 'f-moscow-reception');
  if (flow === undefined) throw new Error('the founding scenario has the reception flow');
  const nodes = flow.nodes.map((n): LayoutNode => {
    const digits = Object.keys(n.next).filter((o) => o.startsWith('digit:')).map((o) => o.slice(6));
    const outcomes = outcomesOf(n, digits);
    const width = 220;
    const height = 86;
    return { id: n.id, width, height, input: { x: width / 2, y: -4 }, outputs: new Map(outcomes.map((o, i) => [o, { x: ((i + 0.5) / outcomes.length) * width, y: height + 8 }])) };
  });
  const edges = flow.nodes.flatMap((n) =>
    Object.entries(n.next as Record<string, string>).map(([o, target]): LayoutEdge => ({ id: `${n.id}:${o}`, source: n.id, outcome: o, target, label: { text: outcomeLabel(o), width: outcomeLabel(o).length * 7 + 16, height: 18 } })),
  );
  return { nodes, edges };
}

/** Whether a horizontal or vertical segment passes through the inside of a box. */
function crosses(a: Point, b: Point, box: Box): boolean {
  const inset = { x: box.x + 1, y: box.y + 1, width: box.width - 2, height: box.height - 2 };
  const seg = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.max(Math.abs(a.x - b.x), 0.01), height: Math.max(Math.abs(a.y - b.y), 0.01) };
  return overlaps(seg, inset);
}

/** What is wrong with a drawing: labels on labels or nodes, routes off their handles, slanted or through a node. */
function problemsOf(nodes: readonly LayoutNode[], edges: readonly LayoutEdge[], positions: ReadonlyMap<string, Point>, routes: ReadonlyMap<string, EdgeRoute>): string[] {
  const boxes = new Map(nodes.map((n) => {
    const p = positions.get(n.id) as Point;
    return [n.id, { ...p, width: n.width, height: n.height }];
  }));
  const problems: string[] = [];
  if (routes.size !== edges.length) problems.push(`${routes.size} routes for ${edges.length} edges`);
  const labels = edges.map((e) => ({ id: e.id, box: routes.get(e.id)?.label as Box }));
  for (const [i, a] of labels.entries()) {
    for (const b of labels.slice(i + 1)) if (overlaps(a.box, b.box)) problems.push(`label ${a.id} overlaps label ${b.id}`);
    for (const [id, box] of boxes) if (overlaps(a.box, box)) problems.push(`label ${a.id} overlaps node ${id}`);
  }
  for (const e of edges) {
    const route = routes.get(e.id);
    const source = nodes.find((n) => n.id === e.source) as LayoutNode;
    const target = nodes.find((n) => n.id === e.target) as LayoutNode;
    const from = positions.get(e.source) as Point;
    const to = positions.get(e.target) as Point;
    const port = source.outputs.get(e.outcome) as Point;
    // ELK rounds port positions to whole pixels.
    const near = (p: Point | undefined, q: Point): boolean => p !== undefined && Math.abs(p.x - q.x) <= 1 && Math.abs(p.y - q.y) <= 1;
    if (!near(route?.points[0], { x: from.x + port.x, y: from.y + port.y })) problems.push(`edge ${e.id} does not start at its handle`);
    if (!near(route?.points.at(-1), { x: to.x + target.input.x, y: to.y + target.input.y })) problems.push(`edge ${e.id} does not end at its target's handle`);
    const points = route?.points ?? [];
    for (let k = 1; k < points.length; k++) {
      const a = points[k - 1] as Point;
      const b = points[k] as Point;
      if (a.x !== b.x && a.y !== b.y) problems.push(`edge ${e.id} has a slanted segment`);
      for (const [id, box] of boxes) if (crosses(a, b, box)) problems.push(`edge ${e.id} runs through node ${id}`);
    }
  }
  return problems;
}

describe('automatic flow layout (ELK)', () => {
  it('places every label clear of the nodes and of each other, and routes every edge from its handle to its target around the other nodes', async () => {
    const { nodes, edges } = receptionFlow();
    const layout = await layoutFlow(nodes, edges);
    expect(problemsOf(nodes, edges, layout.positions, layout.routes)).toEqual([]);
  });
});

describe('edges between nodes a person placed (edge router)', () => {
  const placed = (nodes: readonly LayoutNode[], positions: ReadonlyMap<string, Point>): PlacedNode[] => nodes.map((n) => ({ ...n, position: positions.get(n.id) as Point }));

  it('after a node is dragged onto the path of an edge, routes that edge around it and keeps every label clear of nodes and of each other', async () => {
    const { nodes, edges } = receptionFlow();
    const layout = await layoutFlow(nodes, edges);
    // Drag "sales" so that it sits across the longest vertical stretch of an edge it has no part in.
    const moved = 'sales';
    const node = nodes.find((n) => n.id === moved) as LayoutNode;
    const stretches = edges
      .filter((e) => e.source !== moved && e.target !== moved)
      .flatMap((e) => {
        const points = layout.routes.get(e.id)?.points ?? [];
        return points.slice(1).map((b, k) => ({ edge: e.id, a: points[k] as Point, b }));
      })
      .filter(({ a, b }) => a.x === b.x)
      .sort((s, t) => Math.abs(t.b.y - t.a.y) - Math.abs(s.b.y - s.a.y));
    const across = stretches[0];
    if (across === undefined) throw new Error('the layout has a vertical stretch');
    const positions = new Map(layout.positions);
    positions.set(moved, { x: across.a.x - node.width / 2, y: (across.a.y + across.b.y) / 2 - node.height / 2 });
    // The stale route now runs through the dragged node: the drawing had a problem to solve.
    expect(problemsOf(nodes, edges, positions, layout.routes)).toContain(`edge ${across.edge} runs through node ${moved}`);

    const routes = routeEdges(placed(nodes, positions), edges);
    expect(problemsOf(nodes, edges, positions, routes)).toEqual([]);
    // The dragged node stays exactly where it was put (the router moves no node; the console keeps the position).
    expect(positions.get(moved)).toEqual({ x: across.a.x - node.width / 2, y: (across.a.y + across.b.y) / 2 - node.height / 2 });
  });

  it('routes a flow whose nodes all stand in one row around each other, labels clear', () => {
    const { nodes, edges } = receptionFlow();
    // A saved layout with every step side by side: edges must go round the row, not through it.
    const positions = new Map(nodes.map((n, i) => [n.id, { x: i * 300, y: 0 }]));
    const routes = routeEdges(placed(nodes, positions), edges);
    expect(problemsOf(nodes, edges, positions, routes)).toEqual([]);
  });
});
