import { BaseEdge, EdgeLabelRenderer, getSmoothStepPath, type Edge, type EdgeProps } from '@xyflow/react';
import type { EdgeRoute, Point } from './flow-layout';

export interface RoutedEdgeData extends Record<string, unknown> {
  /** The route and label box (ELK's, or the edge router's), for the node positions it was made for. */
  readonly route?: EdgeRoute;
}
export type RoutedEdge = Edge<RoutedEdgeData, 'routed'>;

/** How far (flow px) an end may be from the route's before the route counts as stale (a node was moved). */
const TOLERANCE = 1.5;
const near = (a: Point, x: number, y: number): boolean => Math.abs(a.x - x) <= TOLERANCE && Math.abs(a.y - y) <= TOLERANCE;

/** An orthogonal polyline with slightly rounded corners, so crossing edges stay tellable apart. */
function polylinePath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (first === undefined) return '';
  let d = `M ${first.x} ${first.y}`;
  for (let i = 0; i < rest.length; i++) {
    const p = rest[i] as Point;
    const prev = (i === 0 ? first : rest[i - 1]) as Point;
    const next = rest[i + 1];
    if (next === undefined) {
      d += ` L ${p.x} ${p.y}`;
      continue;
    }
    const r = Math.min(6, Math.hypot(p.x - prev.x, p.y - prev.y) / 2, Math.hypot(next.x - p.x, next.y - p.y) / 2);
    const into = { x: p.x - (Math.sign(p.x - prev.x) * r), y: p.y - (Math.sign(p.y - prev.y) * r) };
    const out = { x: p.x + (Math.sign(next.x - p.x) * r), y: p.y + (Math.sign(next.y - p.y) * r) };
    d += ` L ${into.x} ${into.y} Q ${p.x} ${p.y} ${out.x} ${out.y}`;
  }
  return d;
}

/**
 * An edge along its route with its one label where the route's placer put it (clear of nodes and of other labels).
 * While a person drags one of its nodes the route no longer fits: the edge is then drawn as a step line between its
 * handles, label at its middle, until the drop routes every edge again around the nodes where they stand.
 */
export function RoutedEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, label, data, markerEnd, style, selected }: EdgeProps<RoutedEdge>) {
  const route = data?.route;
  const first = route?.points[0];
  const last = route?.points.at(-1);
  const fits = route !== undefined && first !== undefined && last !== undefined && near(first, sourceX, sourceY) && near(last, targetX, targetY);
  let path: string;
  let box: { x: number; y: number; centred: boolean; width?: number };
  if (fits) {
    // The route's ends, exactly at the handles (ELK rounds port positions to whole pixels).
    path = polylinePath([{ x: sourceX, y: sourceY }, ...route.points.slice(1, -1), { x: targetX, y: targetY }]);
    // Exactly the box the layout kept clear for it.
    box = { x: route.label.x, y: route.label.y, centred: false, width: route.label.width };
  } else {
    const [stepPath, labelX, labelY] = getSmoothStepPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, borderRadius: 6 });
    path = stepPath;
    box = { x: labelX, y: labelY, centred: true };
  }
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} className={selected === true ? 'selected' : undefined} />
      {typeof label === 'string' && label !== '' && (
        <EdgeLabelRenderer>
          <div
            className={`flow-edge-label${fits ? '' : ' unrouted'}`}
            data-edge-id={id}
            style={{ transform: `translate(${box.x}px, ${box.y}px)${box.centred ? ' translate(-50%, -50%)' : ''}`, ...(box.width !== undefined ? { width: box.width } : {}) }}
          >
            {label}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const EDGE_TYPES = { routed: RoutedEdgeView };
