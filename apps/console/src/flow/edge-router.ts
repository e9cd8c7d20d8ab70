import { overlaps, type Box, type EdgeRoute, type LayoutEdge, type LayoutNode, type Point } from './flow-layout';

/**
 * Routes edges between nodes left where a person put them. ELK cannot do this: its layered algorithm moves the
 * nodes, its `fixed` one draws straight lines, and elkjs ships no libavoid. The flows are small (tens of nodes), so
 * a shortest path over an orthogonal grid is enough: grid lines run beside every node box and through every handle,
 * a step may not enter a node box, and a bend costs as much as a long stretch, so routes stay simple. Each label
 * then takes the first spot along its edge, from the source, that touches no node and no label placed before it.
 */

/** How far grid lines run beside a node box, and how far an edge goes straight out of a handle before turning. */
const CLEARANCE = 14;
/** What one bend costs, in px of length: a few bends fewer is worth a longer way round. */
const BEND_COST = 60;
/** What running along a stretch another edge already uses costs per px: edges spread out, but may still share. */
const SHARED_COST = 1.5;
/** The gap kept between a label and a node or another label. */
const LABEL_GAP = 3;
/** How far apart the spots a label tries along its edge are. */
const LABEL_STEP = 6;

export interface PlacedNode extends LayoutNode {
  /** Top-left corner, where the person (or the layout) put it. */
  readonly position: Point;
}

/** Routes every edge around the nodes at their positions and gives each one a label box clear of the rest. */
export function routeEdges(nodes: readonly PlacedNode[], edges: readonly LayoutEdge[]): Map<string, EdgeRoute> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const boxes = nodes.map((n): Box => ({ ...n.position, width: n.width, height: n.height }));
  const ends = edges.flatMap((e) => {
    const source = byId.get(e.source);
    const target = byId.get(e.target);
    const port = source?.outputs.get(e.outcome);
    if (source === undefined || target === undefined || port === undefined) return [];
    const from = { x: source.position.x + port.x, y: source.position.y + port.y };
    const to = { x: target.position.x + target.input.x, y: target.position.y + target.input.y };
    return [{ edge: e, from, to }];
  });
  const grid = new Grid(boxes, ends.flatMap(({ from, to }) => [from, stubBelow(from), to, stubAbove(to)]));
  const paths = new Map<string, Point[]>();
  for (const { edge, from, to } of ends) {
    const path = grid.route(stubBelow(from), stubAbove(to)) ?? fallbackPath(stubBelow(from), stubAbove(to));
    paths.set(edge.id, simplify([from, ...path, to]));
  }
  const routes = new Map<string, EdgeRoute>();
  const placed: Box[] = [];
  for (const { edge } of ends) {
    const points = paths.get(edge.id) as Point[];
    const label = placeLabel(points, edge.label, [...boxes, ...placed]);
    placed.push(label);
    routes.set(edge.id, { points, label });
  }
  return routes;
}

const stubBelow = (p: Point): Point => ({ x: p.x, y: p.y + CLEARANCE });
const stubAbove = (p: Point): Point => ({ x: p.x, y: p.y - CLEARANCE });

/** When no way round exists (a handle lies inside another node): the plain step line, through whatever is there. */
function fallbackPath(a: Point, b: Point): Point[] {
  const midY = (a.y + b.y) / 2;
  return [a, { x: a.x, y: midY }, { x: b.x, y: midY }, b];
}

/** Drops repeated points and points in the middle of a straight stretch. */
function simplify(points: readonly Point[]): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out.at(-1);
    if (last !== undefined && last.x === p.x && last.y === p.y) continue;
    const before = out.at(-2);
    if (before !== undefined && last !== undefined && ((before.x === last.x && last.x === p.x) || (before.y === last.y && last.y === p.y))) out.pop();
    out.push(p);
  }
  return out;
}

/** Steps on the grid: right, left, down, up. */
const DIRS = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
] as const;
const DOWN = 2;

class Grid {
  private readonly xs: number[];
  private readonly ys: number[];
  /** Per cell: whether the stretch to the next column (right) / next row (down) stays out of every node box. */
  private readonly openRight: Uint8Array;
  private readonly openDown: Uint8Array;
  /** Per cell: how many routed edges use the stretch to the right / downwards (so the next ones spread out). */
  private readonly usedRight: Uint16Array;
  private readonly usedDown: Uint16Array;

  constructor(boxes: readonly Box[], handles: readonly Point[]) {
    this.xs = withMidlines([...handles.map((p) => p.x), ...boxes.flatMap((b) => [b.x - CLEARANCE, b.x + b.width + CLEARANCE])]);
    this.ys = withMidlines([...handles.map((p) => p.y), ...boxes.flatMap((b) => [b.y - CLEARANCE, b.y + b.height + CLEARANCE])]);
    const cells = this.xs.length * this.ys.length;
    this.openRight = new Uint8Array(cells);
    this.openDown = new Uint8Array(cells);
    this.usedRight = new Uint16Array(cells);
    this.usedDown = new Uint16Array(cells);
    // Worked out once: the searches then only look these up.
    const blocked = (a: Point, b: Point): boolean => {
      const stretch = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.max(Math.abs(a.x - b.x), 0.01), height: Math.max(Math.abs(a.y - b.y), 0.01) };
      return boxes.some((box) => overlaps(stretch, box));
    };
    for (const [j, y] of this.ys.entries()) {
      for (const [i, x] of this.xs.entries()) {
        const right = this.xs[i + 1];
        const down = this.ys[j + 1];
        const cell = this.cell(i, j);
        if (right !== undefined && !blocked({ x, y }, { x: right, y })) this.openRight[cell] = 1;
        if (down !== undefined && !blocked({ x, y }, { x, y: down })) this.openDown[cell] = 1;
      }
    }
  }

  private cell(i: number, j: number): number {
    return j * this.xs.length + i;
  }

  /** The cheapest way from a to b (both on the grid), leaving a downwards and arriving at b downwards if it can. */
  route(a: Point, b: Point): Point[] | undefined {
    const cols = this.xs.length;
    const rows = this.ys.length;
    const ai = this.xs.indexOf(a.x);
    const aj = this.ys.indexOf(a.y);
    const bi = this.xs.indexOf(b.x);
    const bj = this.ys.indexOf(b.y);
    const state = (i: number, j: number, d: number): number => ((j * cols + i) << 2) | d;
    const cost = new Float64Array(cols * rows * 4).fill(Infinity);
    const prev = new Int32Array(cols * rows * 4).fill(-1);
    // A*: what is left is at least the straight-line (Manhattan) distance to b.
    const left = (i: number, j: number): number => Math.abs((this.xs[i] as number) - b.x) + Math.abs((this.ys[j] as number) - b.y);
    const queue = new MinQueue();
    cost[state(ai, aj, DOWN)] = 0;
    queue.push(left(ai, aj), state(ai, aj, DOWN));
    let best = -1;
    let bestCost = Infinity;
    while (queue.size > 0) {
      const [f, s] = queue.pop();
      const d = s & 3;
      const cell = s >> 2;
      const i = cell % cols;
      const j = (cell - i) / cols;
      const c = cost[s] as number;
      if (f > c + left(i, j) || f >= bestCost) continue;
      if (i === bi && j === bj) {
        // The last stretch, into the handle, goes down: arriving sideways costs one more bend.
        const total = c + (d === DOWN ? 0 : BEND_COST);
        if (total < bestCost) [best, bestCost] = [s, total];
        continue;
      }
      for (let k = 0; k < 4; k++) {
        if ((d ^ k) === 1) continue; // never straight back
        const [dx, dy] = DIRS[k] as readonly [number, number];
        const ni = i + dx;
        const nj = j + dy;
        if (ni < 0 || nj < 0 || ni >= cols || nj >= rows) continue;
        const across = dy === 0;
        const via = Math.min(j, nj) * cols + Math.min(i, ni);
        if ((across ? this.openRight[via] : this.openDown[via]) !== 1) continue;
        const length = Math.abs((this.xs[ni] as number) - (this.xs[i] as number)) + Math.abs((this.ys[nj] as number) - (this.ys[j] as number));
        const shared = (across ? this.usedRight[via] : this.usedDown[via]) as number;
        const next = c + length * (1 + shared * SHARED_COST) + (k === d ? 0 : BEND_COST);
        const ns = state(ni, nj, k);
        if (next < (cost[ns] as number)) {
          cost[ns] = next;
          prev[ns] = s;
          queue.push(next + left(ni, nj), ns);
        }
      }
    }
    if (best < 0) return undefined;
    const cells: [number, number][] = [];
    for (let s = best; s >= 0; s = prev[s] as number) {
      const cell = s >> 2;
      cells.push([cell % cols, Math.floor(cell / cols)]);
    }
    cells.reverse();
    for (let k = 1; k < cells.length; k++) {
      const [i, j] = cells[k - 1] as [number, number];
      const [ni, nj] = cells[k] as [number, number];
      const across = j === nj;
      const via = this.cell(Math.min(i, ni), Math.min(j, nj));
      if (across) this.usedRight[via] = (this.usedRight[via] as number) + 1;
      else this.usedDown[via] = (this.usedDown[via] as number) + 1;
    }
    return cells.map(([i, j]) => ({ x: this.xs[i] as number, y: this.ys[j] as number }));
  }
}

/** The coordinates sorted and deduplicated, with a line through the middle of each gap so edges can run between nodes. */
function withMidlines(values: readonly number[]): number[] {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const out: number[] = [];
  for (const [k, v] of sorted.entries()) {
    const next = sorted[k + 1];
    out.push(v);
    if (next !== undefined && next - v > 2 * CLEARANCE) out.push((v + next) / 2);
  }
  return out;
}

/**
 * The first spot along the route, walking from the source, where the label (centred on the line) keeps clear of
 * every box in `taken`; failing that, the same spots with the label beside the line; failing that, the middle.
 */
function placeLabel(points: readonly Point[], size: { readonly width: number; readonly height: number }, taken: readonly Box[]): Box {
  const spots = spotsAlong(points);
  const centred = (p: Point): Box => ({ x: p.x - size.width / 2, y: p.y - size.height / 2, width: size.width, height: size.height });
  const beside = (p: Point): Box => ({ x: p.x + LABEL_GAP + 1, y: p.y - size.height / 2, width: size.width, height: size.height });
  const free = (box: Box): boolean => {
    const padded = { x: box.x - LABEL_GAP, y: box.y - LABEL_GAP, width: box.width + 2 * LABEL_GAP, height: box.height + 2 * LABEL_GAP };
    return !taken.some((t) => overlaps(padded, t));
  };
  for (const place of [centred, beside]) {
    for (const p of spots) {
      const box = place(p);
      if (free(box)) return box;
    }
  }
  return centred(spots[Math.floor(spots.length / 2)] ?? points[0] ?? { x: 0, y: 0 });
}

/** Points every LABEL_STEP px along a polyline. */
function spotsAlong(points: readonly Point[]): Point[] {
  const spots: Point[] = [];
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1] as Point;
    const b = points[k] as Point;
    const length = Math.abs(b.x - a.x) + Math.abs(b.y - a.y);
    for (let t = 0; t < length; t += LABEL_STEP) spots.push({ x: a.x + (Math.sign(b.x - a.x) * t), y: a.y + (Math.sign(b.y - a.y) * t) });
  }
  const last = points.at(-1);
  if (last !== undefined) spots.push(last);
  return spots;
}

/** A binary heap of [cost, state], cheapest first. */
class MinQueue {
  private readonly heap: [number, number][] = [];
  get size(): number {
    return this.heap.length;
  }
  push(cost: number, state: number): void {
    const h = this.heap;
    h.push([cost, state]);
    for (let k = h.length - 1; k > 0; ) {
      const parent = (k - 1) >> 1;
      if ((h[parent] as [number, number])[0] <= cost) break;
      [h[k], h[parent]] = [h[parent] as [number, number], h[k] as [number, number]];
      k = parent;
    }
  }
  pop(): [number, number] {
    const h = this.heap;
    const top = h[0] as [number, number];
    const last = h.pop() as [number, number];
    if (h.length > 0) {
      h[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < h.length && (h[l] as [number, number])[0] < (h[m] as [number, number])[0]) m = l;
        if (r < h.length && (h[r] as [number, number])[0] < (h[m] as [number, number])[0]) m = r;
        if (m === k) break;
        [h[k], h[m]] = [h[m] as [number, number], h[k] as [number, number]];
        k = m;
      }
    }
    return top;
  }
}
