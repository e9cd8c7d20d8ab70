import '@xyflow/react/dist/style.css';
import { addEdge, Background, Controls, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState, useReactFlow, type Connection, type Edge } from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import type { CallFlow, CallFlowLayout, FederationIssue, FlowNode, FlowNodeType, WriteResponse } from '../api/types';
import { Link, navigate } from '../router';
import { useApi, useSession } from '../session';
import { Banner, ErrorBanner, ImpactPreview } from '../ui/feedback';
import { useLoad } from '../ui/use-load';
import { NotFound } from '../screens/not-found';
import { edgeId, edgeOf, fromDiagram, layoutOf, newNode, placeIssues, sortDigits, toDiagram, type DiagramNode } from './flow-graph';
import { NODE_TYPES } from './flow-node-view';
import { NODE_KINDS, PALETTE } from './node-catalog';
import { NodeInspector } from './node-inspector';
import { EDGE_TYPES } from './routed-edge';
import { FIT_VIEW, useAutoLayout } from './use-auto-layout';

/**
 * Create or edit a call flow by drawing it: `flowId` "new" starts an empty one. A caller who may not write the
 * site (a viewer) gets the same diagram and settings read-only.
 */
export function FlowEditorScreen({ siteId, flowId }: { siteId: string; flowId: string }) {
  const api = useApi();
  const readOnly = !useSession().canWrite(siteId);
  const [loaded] = useLoad(async () => {
    if (flowId === 'new') return undefined;
    const path = `/call-flows/${encodeURIComponent(flowId)}`;
    const [flow, layout] = await Promise.all([api.get<{ data: CallFlow }>(path), api.get<{ data: CallFlowLayout }>(`${path}/layout`)]);
    return { flow: flow.data, layout: layout.data };
  }, [api, flowId]);
  if (flowId === 'new' && readOnly) return <NotFound what={`New call flows at ${siteId} are made by its site admin`} />;
  switch (loaded.state) {
    case 'loading':
      return <p className="muted">Loading the call flow…</p>;
    case 'unavailable':
      return <NotFound what={`No call flow “${flowId}”`} />;
    case 'error':
      return <ErrorBanner error={loaded.error} />;
    case 'ok':
      // A flow of another site under this site's URL is not found here either.
      if (loaded.value !== undefined && loaded.value.flow.siteId !== siteId) return <NotFound what={`No call flow “${flowId}” at ${siteId}`} />;
      return (
        <ReactFlowProvider>
          <FlowEditor key={loaded.value?.flow.id ?? 'new'} siteId={siteId} flow={loaded.value?.flow} layout={loaded.value?.layout} readOnly={readOnly} />
        </ReactFlowProvider>
      );
  }
}

function FlowEditor({ siteId, flow, layout, readOnly }: { siteId: string; flow: CallFlow | undefined; layout: CallFlowLayout | undefined; readOnly: boolean }) {
  const api = useApi();
  const rf = useReactFlow();
  const initial = useMemo(() => toDiagram(flow ?? { nodes: [], entry: '' }, layout?.nodes), [flow, layout]);
  const [nodes, setNodes, onNodesChange] = useNodesState<DiagramNode>(initial.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(initial.edges);
  const [name, setName] = useState(flow?.name ?? '');
  const [number, setNumber] = useState(flow?.number ?? '');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [general, setGeneral] = useState<string[]>([]);
  const [preview, setPreview] = useState<WriteResponse | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  // A new flow gets its id here, so the server's findings about it can be told from the rest of the federation's.
  const [flowId] = useState(() => flow?.id ?? `f-${crypto.randomUUID()}`);
  const aboutThisFlow = (i: FederationIssue): boolean => i.objects.some((o) => o.type === 'callFlow' && o.id === flowId);
  const selectedNode = nodes.find((n) => n.id === selected);
  // Nodes a person placed (stored in the flow's layout); the automatic layout places the rest.
  const pinned = useRef(new Set(Object.keys(layout?.nodes ?? {})));
  const { arrange, reroute, state: layoutState } = useAutoLayout(setNodes, setEdges, pinned, flow !== undefined);
  const [layoutNote, setLayoutNote] = useState<string | undefined>(undefined);

  /** Saves where the boxes are: console metadata, so no revision and nothing rolls out. */
  const saveLayout = async (current: readonly DiagramNode[]): Promise<void> => {
    if (flow === undefined || readOnly) return;
    try {
      await api.put(`/call-flows/${encodeURIComponent(flow.id)}/layout`, { nodes: layoutOf(current, pinned.current) });
      setLayoutNote('Layout saved (drawing only: no site configuration changes).');
    } catch (e) {
      setError(e);
    }
  };

  const onNodeDragStop = (_: unknown, dragged: DiagramNode, moved: readonly DiagramNode[]): void => {
    for (const n of [dragged, ...moved]) pinned.current.add(n.id);
    const current = nodes.map((n) => moved.find((m) => m.id === n.id) ?? (n.id === dragged.id ? dragged : n));
    reroute([dragged, ...moved]);
    void saveLayout(current);
  };

  const arrangeAgain = async (): Promise<void> => {
    pinned.current.clear();
    await arrange();
    await saveLayout(nodes);
  };

  // Drawing a connection from an outcome replaces whatever that outcome led to: one outcome, one next step.
  const onConnect = useCallback(
    (c: Connection) => {
      if (c.sourceHandle === null || c.sourceHandle === undefined || c.source === c.target) return;
      const id = edgeId(c.source, c.sourceHandle);
      setEdges((old) => addEdge(edgeOf(c.source, c.sourceHandle as string, c.target), old.filter((e) => e.id !== id)));
    },
    [setEdges],
  );

  const add = (type: FlowNodeType): void => {
    // New steps go into a grid from the visible top-left corner (below the zoom controls' strip), two to a row,
    // so none hides another.
    const vp = rf.getViewport();
    const n = nodes.length;
    const position = { x: (20 - vp.x) / vp.zoom + (n % 2) * 250, y: (64 - vp.y) / vp.zoom + Math.floor(n / 2) * 170 };
    const node = newNode(NODE_KINDS[type].create(), nodes, position, nodes.length === 0);
    setNodes((old) => [...old.map((n) => ({ ...n, selected: false })), { ...node, selected: true }]);
    setSelected(node.id);
  };

  const updateNode = (id: string, node: FlowNode, digits?: readonly string[]): void => {
    setNodes((old) => old.map((n) => (n.id === id ? { ...n, data: { ...n.data, node, ...(digits !== undefined ? { digits: sortDigits(digits) } : {}) } } : n)));
    // An IVR key no longer offered takes its connection with it.
    if (digits !== undefined) setEdges((old) => old.filter((e) => e.source !== id || !e.sourceHandle?.startsWith('digit:') || digits.includes(e.sourceHandle.slice(6))));
  };

  const connectFromInspector = (source: string, outcome: string, target: string | undefined): void => {
    const id = edgeId(source, outcome);
    setEdges((old) => [...old.filter((e) => e.id !== id), ...(target !== undefined ? [edgeOf(source, outcome, target)] : [])]);
  };

  const makeEntry = (id: string): void => setNodes((old) => old.map((n) => ({ ...n, data: { ...n.data, entry: n.id === id } })));

  const remove = (id: string): void => {
    setNodes((old) => {
      const rest = old.filter((n) => n.id !== id);
      // Keep a start node while the flow has nodes.
      return rest.some((n) => n.data.entry) || rest.length === 0 ? rest : rest.map((n, i) => (i === 0 ? { ...n, data: { ...n.data, entry: true } } : n));
    });
    setEdges((old) => old.filter((e) => e.source !== id && e.target !== id));
    setSelected(undefined);
  };

  /** Puts the server's findings on the nodes (or above the diagram when they concern the whole flow). */
  const showFindings = (problems: readonly { path: string; message: string }[], issues: readonly FederationIssue[]): void => {
    const placed = placeIssues(nodes.map((n) => n.id), problems, issues.filter(aboutThisFlow));
    setNodes((old) => old.map((n) => ({ ...n, data: { ...n.data, issues: placed.byNode.get(n.id) ?? [] } })));
    setGeneral(placed.general);
  };

  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setPreview(undefined);
    setSaved(undefined);
    const graph = fromDiagram(nodes, edges);
    const body = {
      id: flowId,
      siteId,
      name: name.trim(),
      ...(number.trim() !== '' ? { number: number.trim() } : {}),
      entry: graph.entry ?? '',
      nodes: graph.nodes,
    };
    try {
      const q = dryRun ? { dryRun: true } : undefined;
      const answer = flow === undefined ? await api.post<WriteResponse<CallFlow>>('/call-flows', body, q) : await api.put<WriteResponse<CallFlow>>(`/call-flows/${encodeURIComponent(flow.id)}`, body, q);
      // Where the boxes are is saved apart from the routing: it makes no revision and rolls out nowhere.
      if (!dryRun) await api.put(`/call-flows/${encodeURIComponent(flowId)}/layout`, { nodes: layoutOf(nodes, pinned.current) });
      showFindings([], [...answer.validation.errors, ...answer.validation.warnings]);
      if (dryRun) setPreview({ ...answer, validation: { ...answer.validation, errors: answer.validation.errors.filter(aboutThisFlow), warnings: answer.validation.warnings.filter(aboutThisFlow) } });
      else if (flow === undefined && answer.data !== undefined) navigate(`/sites/${siteId}/flows/${answer.data.id}?saved=1`, { replace: true });
      else setSaved('Saved. The sites’ configuration is being updated.');
    } catch (e) {
      setError(e);
      if (e instanceof ApiError) showFindings(e.problems, e.issues);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (new URLSearchParams(window.location.search).get('saved') === '1') setSaved('Saved. The sites’ configuration is being updated.');
  }, []);

  const nameProblem = error instanceof ApiError ? error.problems.find((p) => p.path === 'name')?.message : undefined;
  const numberProblem = error instanceof ApiError ? error.problems.find((p) => p.path === 'number')?.message : undefined;

  return (
    <section className="flow-editor" aria-labelledby="fe-title">
      <h1 id="fe-title">
        {flow === undefined ? 'New call flow' : flow.name} <span className="muted">at {siteId}</span>
      </h1>
      <p className="help">
        {readOnly
          ? `Read only: you can see this flow and its steps' settings, but not change them at ${siteId}.`
          : 'Add steps from the palette, then drag from an outcome at the bottom of a step (e.g. “key 1”, “no answer”) to the step that should follow. An outcome left unconnected ends the call.'}{' '}
        <Link to={`/sites/${siteId}/flows`}>All call flows</Link>
      </p>
      <div className="flow-meta">
        <div className={`field${nameProblem !== undefined ? ' field-invalid' : ''}`}>
          <label htmlFor="flow-name">Flow name</label>
          <input id="flow-name" readOnly={readOnly} value={name} onChange={(e) => setName(e.target.value)} placeholder="Reception" aria-invalid={nameProblem !== undefined} />
          {nameProblem !== undefined && <small className="field-error">{nameProblem}</small>}
        </div>
        <div className={`field${numberProblem !== undefined ? ' field-invalid' : ''}`}>
          <label htmlFor="flow-number">Internal number (optional)</label>
          <input id="flow-number" readOnly={readOnly} value={number} inputMode="numeric" onChange={(e) => setNumber(e.target.value)} placeholder="200" aria-invalid={numberProblem !== undefined} />
          <small className="help">Dialling it runs the flow; it must be in the site’s ranges and not a phone’s number.</small>
          {numberProblem !== undefined && <small className="field-error">{numberProblem}</small>}
        </div>
        {!readOnly && (
          <div className="actions">
            <button type="button" onClick={() => void send(true)} disabled={busy || nodes.length === 0}>
              Check
            </button>
            <button type="button" className="primary" onClick={() => void send(false)} disabled={busy || nodes.length === 0}>
              Save flow
            </button>
          </div>
        )}
      </div>
      {saved !== undefined && <Banner kind="ok">{saved}</Banner>}
      {layoutNote !== undefined && saved === undefined && <p className="help layout-note" role="status">{layoutNote}</p>}
      {error !== undefined && <ErrorBanner error={error} />}
      {general.length > 0 && error === undefined && (
        <Banner kind="warning" title="About the whole flow">
          <ul>{general.map((g, i) => <li key={i}>{g}</li>)}</ul>
        </Banner>
      )}
      {preview !== undefined && <ImpactPreview preview={preview} />}
      <div className={`flow-workspace${readOnly ? ' read-only' : ''}`}>
        {!readOnly && (
          <div className="palette" role="toolbar" aria-label="Add a step">
            {PALETTE.map((t) => (
              <button key={t} type="button" onClick={() => add(t)} title={NODE_KINDS[t].help}>
                + {NODE_KINDS[t].title}
              </button>
            ))}
          </div>
        )}
        <div className="canvas" aria-label="Call flow diagram" data-layout={layoutState}>
          {nodes.length === 0 && <p className="canvas-empty">Start with a step from the palette — for an office menu, an IVR menu; for office hours, a time condition.</p>}
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            edgeTypes={EDGE_TYPES}
            onNodesChange={onNodesChange}
            onNodeDragStop={onNodeDragStop}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onSelectionChange={({ nodes: sel }) => setSelected(sel[0]?.id)}
            fitViewOptions={FIT_VIEW}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            edgesReconnectable={!readOnly}
            deleteKeyCode={readOnly ? null : ['Delete']}
            minZoom={0.3}
          >
            <Background />
            <Controls position="top-left" orientation="horizontal" showInteractive={false}>
              <button type="button" className="react-flow__controls-button arrange-button" onClick={() => void arrangeAgain()} title="Arrange the steps automatically" aria-label="Arrange automatically">
                ⤧
              </button>
            </Controls>
          </ReactFlow>
        </div>
        <aside className="side">
          {selectedNode !== undefined ? (
            <NodeInspector
              node={selectedNode}
              readOnly={readOnly}
              all={nodes}
              edges={edges}
              onChange={(n, digits) => updateNode(selectedNode.id, n, digits)}
              onConnect={(o, t) => connectFromInspector(selectedNode.id, o, t)}
              onMakeEntry={() => makeEntry(selectedNode.id)}
              onDelete={() => remove(selectedNode.id)}
            />
          ) : (
            <p className="help">Select a step to change its settings. Keyboard: Tab to a step and press Enter, or pick it here.</p>
          )}
          {nodes.length > 0 && (
            <nav aria-label="Steps">
              <ul className="node-list">
                {nodes.map((n) => (
                  <li key={n.id}>
                    <button type="button" className={n.id === selected ? 'link current' : 'link'} onClick={() => { setSelected(n.id); setNodes((old) => old.map((x) => ({ ...x, selected: x.id === n.id }))); }}>
                      {n.id} – {NODE_KINDS[n.data.node.type].title}
                      {n.data.issues.length > 0 && ' ⚠'}
                    </button>
                  </li>
                ))}
              </ul>
            </nav>
          )}
        </aside>
      </div>
    </section>
  );
}
