import { Inject, Injectable } from '@nestjs/common';
import { CallFlowLayout, type LayoutPosition } from '@fedpbx/contracts';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository.js';
import { actorName, type Principal } from '../auth/principal.js';
import { CallFlowEntity, CallFlowLayoutEntity } from '../database/entities/index.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import { parseInput } from '../http/input.js';

export interface CallFlowLayoutView {
  readonly flowId: string;
  /** Positions of the flow's current nodes (nodes never placed are left out). */
  readonly nodes: Record<string, LayoutPosition>;
  readonly updatedAt: string | null;
}

/**
 * Where the console draws a flow's nodes. Console metadata: stored beside the flow, read and written with the
 * flow's rights, but outside the federation - no validation of the numbering plan, no revision, no snapshot, no
 * rollout. A flow's layout goes when the flow does (foreign key).
 */
@Injectable()
export class CallFlowLayoutService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly audit: AuditRepository,
  ) {}

  async get(caller: Principal, flowId: string): Promise<CallFlowLayoutView> {
    const flow = await this.ds.manager.findOne(CallFlowEntity, { where: { id: flowId }, select: { id: true, siteId: true, nodes: true } });
    if (flow === null || !caller.scope.canRead(flow.siteId)) throw new NotFoundError('callFlow', flowId);
    const layout = await this.ds.manager.findOne(CallFlowLayoutEntity, { where: { flowId } });
    return view(flow, layout);
  }

  async put(caller: Principal, flowId: string, body: unknown): Promise<CallFlowLayoutView> {
    const layout = parseInput(CallFlowLayout, body);
    return this.ds.transaction(async (m) => {
      // FOR SHARE: the flow cannot be deleted or change its nodes under this write (its layout would dangle).
      const flow = await m.findOne(CallFlowEntity, { where: { id: flowId }, lock: { mode: 'pessimistic_read' } });
      if (flow === null || !caller.scope.canRead(flow.siteId)) throw new NotFoundError('callFlow', flowId);
      if (!caller.scope.canWrite(flow.siteId)) throw new ForbiddenError(`read-only access to site ${flow.siteId}`);
      const known = new Set(flow.nodes.map((n) => n.id));
      const unknown = Object.keys(layout.nodes).filter((id) => !known.has(id));
      if (unknown.length > 0) {
        throw new InvalidInputError('invalid body', unknown.map((id) => ({ path: `nodes.${id}`, message: `flow ${flowId} has no node ${id}` })));
      }
      const before = await m.findOne(CallFlowLayoutEntity, { where: { flowId } });
      await this.store(m, flowId, layout.nodes);
      await this.audit.append(m, [
        { actor: actorName(caller), action: 'callFlow.layout', objectType: 'callFlow', objectId: flowId, siteIds: [flow.siteId], ...(before !== null ? { before: { nodes: before.nodes } } : {}), after: { nodes: layout.nodes } },
      ]);
      const saved = await m.findOneOrFail(CallFlowLayoutEntity, { where: { flowId } });
      return view(flow, saved);
    });
  }

  /** Replaces a flow's layout (inside the caller's transaction; the flow row must exist by then). */
  async store(m: EntityManager, flowId: string, nodes: Record<string, LayoutPosition>): Promise<void> {
    await m.upsert(CallFlowLayoutEntity, { flowId, nodes, updatedAt: new Date() }, { conflictPaths: ['flowId'], skipUpdateIfNoValuesChanged: false });
  }
}

function view(flow: Pick<CallFlowEntity, 'id' | 'nodes'>, layout: CallFlowLayoutEntity | null): CallFlowLayoutView {
  const nodes: Record<string, LayoutPosition> = {};
  for (const n of flow.nodes) {
    const p = layout?.nodes[n.id];
    if (p !== undefined) nodes[n.id] = p;
  }
  return { flowId: flow.id, nodes, updatedAt: layout?.updatedAt.toISOString() ?? null };
}
