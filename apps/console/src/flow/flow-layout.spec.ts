import { foundingScenario } from '@fedpbx/dialplan';
import { describe, expect, it } from 'vitest';
import { layoutFlow, overlaps, type Box, type LayoutEdge, type LayoutNode, type Point } from './flow-layout';
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

describe('automatic flow layout (ELK)', () => {
  it('places every label clear of the nodes and of each other, and routes every edge from its handle to its target around the other nodes', async () => {
    const { nodes, edges } = receptionFlow();
    const layout = await layoutFlow(nodes, edges);
    const boxes = new Map(nodes.map((n) => {
      const p = layout.positions.get(n.id) as Point;
      return [n.id, { ...p, width: n.width, height: n.height }];
    }));
    expect(layout.routes.size).toBe(edges.length);
    const labels = edges.map((e) => ({ id: e.id, box: layout.routes.get(e.id)?.label as Box }));
    const problems: string[] = [];
    for (const [i, a] of labels.entries()) {
      for (const b of labels.slice(i + 1)) if (overlaps(a.box, b.box)) problems.push(`label ${a.id} overlaps label ${b.id}`);
      for (const [id, box] of boxes) if (overlaps(a.box, box)) problems.push(`label ${a.id} overlaps node ${id}`);
    }
    for (const e of edges) {
      const route = layout.routes.get(e.id);
      const source = nodes.find((n) => n.id === e.source) as LayoutNode;
      const target = nodes.find((n) => n.id === e.target) as LayoutNode;
      const from = layout.positions.get(e.source) as Point;
      const to = layout.positions.get(e.target) as Point;
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
    expect(problems).toEqual([]);
  });
});
