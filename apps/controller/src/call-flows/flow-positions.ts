import { LayoutPosition } from '@fedpbx/contracts';
import { InvalidInputError } from '../errors.js';

/**
 * A call-flow write from a client that still sends node positions inside the flow (before layouts left the
 * snapshot): the routing without them, and the positions as a layout to store beside the flow. Accepted so
 * older scripts keep working; the flow the agents get never carries them.
 */
export function splitFlowPositions(body: Record<string, unknown>): { routing: Record<string, unknown>; positions?: Record<string, LayoutPosition> } {
  const nodes = body['nodes'];
  if (!Array.isArray(nodes) || !nodes.some((n) => typeof n === 'object' && n !== null && 'position' in n)) return { routing: body };
  const positions: Record<string, LayoutPosition> = {};
  const problems: { path: string; message: string }[] = [];
  const routingNodes = nodes.map((n: unknown, i) => {
    if (typeof n !== 'object' || n === null || !('position' in n)) return n;
    const { position, ...routing } = n as Record<string, unknown>;
    const parsed = LayoutPosition.safeParse(position);
    if (!parsed.success) problems.push({ path: `nodes.${i}.position`, message: 'a position is { x, y } (numbers)' });
    else if (typeof routing['id'] === 'string') positions[routing['id']] = parsed.data;
    return routing;
  });
  if (problems.length > 0) throw new InvalidInputError('invalid body', problems);
  return { routing: { ...body, nodes: routingNodes }, positions };
}
