import { Handle, Position, type NodeProps } from '@xyflow/react';
import type { DiagramNode } from './flow-graph';
import { NODE_KINDS, outcomeLabel, outcomesOf, summaryOf } from './node-catalog';

/**
 * One flow node on the diagram: incoming connections land on top; each outcome it can produce is a handle at
 * the bottom, dragged to the node that should come next. Server validation messages are shown on the node.
 */
export function FlowNodeView({ data, selected }: NodeProps<DiagramNode>) {
  const { node, entry, issues, highlighted } = data;
  const outcomes = outcomesOf(node, data.digits);
  const classes = ['flow-node', `flow-node-${node.type}`, selected ? 'selected' : '', issues.length > 0 ? 'has-issues' : '', highlighted === true ? 'highlighted' : ''];
  return (
    <div className={classes.filter(Boolean).join(' ')} data-node-id={node.id}>
      <Handle type="target" position={Position.Top} id="in" />
      <div className="flow-node-head">
        {entry && <span className="entry-badge">start</span>}
        <strong>{NODE_KINDS[node.type].title}</strong>
        <span className="muted"> {node.id}</span>
      </div>
      {node.label !== undefined && node.label !== '' && <div className="flow-node-label">{node.label}</div>}
      <div className="flow-node-summary">{summaryOf(node)}</div>
      {issues.length > 0 && (
        <ul className="flow-node-issues" role="alert">
          {issues.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
      <div className="flow-node-outcomes">
        {outcomes.map((o, i) => (
          <div key={o} className="outcome" style={{ left: `${((i + 0.5) / outcomes.length) * 100}%` }}>
            <span>{outcomeLabel(o)}</span>
            <Handle type="source" position={Position.Bottom} id={o} className="outcome-handle" data-outcome={o} />
          </div>
        ))}
      </div>
    </div>
  );
}

export const NODE_TYPES = { flow: FlowNodeView };
