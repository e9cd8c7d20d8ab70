import { useNodesInitialized, useReactFlow, type Edge, type FitViewOptions, type ReactFlowInstance } from '@xyflow/react';
import { useCallback, useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import type { DiagramNode } from './flow-graph';
import { routeEdges, type PlacedNode } from './edge-router';
import { layoutFlow, type EdgeRoute, type LayoutEdge, type Point } from './flow-layout';

/**
 * How the diagram is fitted into the canvas: the zoom controls sit in the strip at the top left, so the fitted
 * diagram starts below them and no node is drawn under them.
 */
export const FIT_VIEW: FitViewOptions<DiagramNode> = { maxZoom: 1, padding: { top: '64px', left: '24px', right: '24px', bottom: '24px' } };

/** Edge labels are drawn in this font with this padding and border (styles.css `.flow-edge-label`). */
const LABEL_FONT_PX = 11;
const LABEL_PAD_X = 14;
const LABEL_HEIGHT = 18;
let measureContext: CanvasRenderingContext2D | null | undefined;

function labelSize(text: string): { text: string; width: number; height: number } {
  measureContext ??= document.createElement('canvas').getContext('2d');
  let textWidth = text.length * LABEL_FONT_PX * 0.62;
  if (measureContext !== null) {
    measureContext.font = `${LABEL_FONT_PX}px ${getComputedStyle(document.body).fontFamily}`;
    textWidth = measureContext.measureText(text).width;
  }
  return { text, width: Math.ceil(textWidth) + LABEL_PAD_X + 2, height: LABEL_HEIGHT };
}

/** The nodes as React Flow measured them (sizes and handle positions) and the edges between their outcomes. */
function measure(rf: ReactFlowInstance<DiagramNode, Edge>): { nodes: PlacedNode[]; edges: LayoutEdge[] } {
  const nodes: PlacedNode[] = [];
  for (const n of rf.getNodes()) {
    const internal = rf.getInternalNode(n.id);
    const width = internal?.measured.width ?? 220;
    const height = internal?.measured.height ?? 90;
    const bounds = internal?.internals.handleBounds;
    const target = bounds?.target?.[0];
    const input: Point = target !== undefined ? { x: target.x + target.width / 2, y: target.y } : { x: width / 2, y: 0 };
    const outputs = new Map<string, Point>();
    for (const h of bounds?.source ?? []) if (typeof h.id === 'string') outputs.set(h.id, { x: h.x + h.width / 2, y: h.y + h.height });
    nodes.push({ id: n.id, width, height, input, outputs, position: n.position });
  }
  const edges = rf.getEdges().flatMap((e) => {
    const outcome = e.sourceHandle;
    const node = nodes.find((n) => n.id === e.source);
    if (typeof outcome !== 'string' || node === undefined || !node.outputs.has(outcome)) return [];
    return [{ id: e.id, source: e.source, outcome, target: e.target, label: labelSize(typeof e.label === 'string' ? e.label : '') }];
  });
  return { nodes, edges };
}

/**
 * Lays the diagram out with ELK once React Flow has measured the nodes (sizes and handle positions), and again on
 * `arrange()`. Nodes a person placed (`pinned`) keep their place; the others take the layout's. Edges carry a route
 * and label box: ELK's when it placed every node, else the edge router's around the nodes where they stand - also
 * after each drag (`reroute()`). `state` is "done" once the fitted diagram is on screen.
 */
export function useAutoLayout(
  setNodes: Dispatch<SetStateAction<DiagramNode[]>>,
  setEdges: Dispatch<SetStateAction<Edge[]>>,
  pinned: { readonly current: ReadonlySet<string> },
  /** Lay out once the nodes are measured (a stored flow); a new one is laid out only when asked. */
  onLoad: boolean,
): { arrange: () => Promise<void>; reroute: (moved?: readonly DiagramNode[]) => void; state: 'pending' | 'done' } {
  const rf = useReactFlow<DiagramNode, Edge>();
  const initialized = useNodesInitialized();
  const [state, setState] = useState<'pending' | 'done'>(onLoad ? 'pending' : 'done');
  const [fitRequest, setFitRequest] = useState(0);
  const started = useRef(!onLoad);

  const setRoutes = useCallback((routes: ReadonlyMap<string, EdgeRoute>) => setEdges((old) => old.map((e) => ({ ...e, data: { ...e.data, route: routes.get(e.id) } }))), [setEdges]);

  const arrange = useCallback(async () => {
    const { nodes, edges } = measure(rf);
    if (nodes.length === 0) {
      setState('done');
      return;
    }
    setState('pending');
    const layout = await layoutFlow(nodes, edges);
    const placed = nodes.map((n) => (pinned.current.has(n.id) ? n : { ...n, position: layout.positions.get(n.id) ?? n.position }));
    setNodes((old) => old.map((n) => (pinned.current.has(n.id) ? n : { ...n, position: layout.positions.get(n.id) ?? n.position })));
    // ELK's routes fit only the positions it chose: with a node where a person put it, route around them as they are.
    setRoutes(nodes.some((n) => pinned.current.has(n.id)) ? routeEdges(placed, edges) : layout.routes);
    setFitRequest((r) => r + 1);
  }, [rf, setNodes, setRoutes, pinned]);

  /** Routes every edge around the nodes where they stand now (`moved`: positions React Flow has yet to take in). */
  const reroute = useCallback(
    (moved: readonly DiagramNode[] = []) => {
      const { nodes, edges } = measure(rf);
      const placed = nodes.map((n) => ({ ...n, position: moved.find((m) => m.id === n.id)?.position ?? n.position }));
      setRoutes(routeEdges(placed, edges));
    },
    [rf, setRoutes],
  );

  useEffect(() => {
    if (!initialized || started.current) return;
    started.current = true;
    void arrange();
  }, [initialized, arrange]);

  useEffect(() => {
    if (fitRequest === 0) return;
    // Two frames: React Flow takes the new positions into its store after this render.
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => {
        void rf.fitView(FIT_VIEW).then(() => setState('done'));
      });
    });
    return () => cancelAnimationFrame(frame);
  }, [fitRequest, rf]);

  return { arrange, reroute, state };
}
