import { Inject, Injectable } from '@nestjs/common';
import { LiveHealth, LiveTraceRequest, LiveTraceResponse, Subjects, type AgentStatus } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/principal.js';
import { NotFoundError } from '../errors.js';
import { FederationStore } from '../federation/federation-store.js';
import { parseInput } from '../http/input.js';
import { AgentRpcClient, AgentBadReplyError } from './agent-rpc.client.js';
import { AgentStatusRepository } from './agent-status.repository.js';
import { emergencyTrunkWarnings } from './emergency-trunk-warnings.js';

/** Agent status from ingested events, and live requests to one agent; both within the caller's sites. */
@Injectable()
export class AgentsService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(AgentStatusRepository) private readonly status: AgentStatusRepository,
    @Inject(AgentRpcClient) private readonly rpc: AgentRpcClient,
    @Inject(FederationStore) private readonly store: FederationStore,
  ) {}

  async list(caller: Principal): Promise<AgentStatus[]> {
    return this.withWarnings(await this.status.list(this.ds.manager, caller.scope.readableSites(), new Date()));
  }

  async get(caller: Principal, siteId: string): Promise<AgentStatus> {
    if (!caller.scope.canRead(siteId)) throw new NotFoundError('site', siteId);
    const [status] = await this.withWarnings(await this.status.list(this.ds.manager, [siteId], new Date()));
    if (status === undefined) throw new NotFoundError('site', siteId);
    return status;
  }

  private async withWarnings(list: readonly Omit<AgentStatus, 'warnings'>[]): Promise<AgentStatus[]> {
    const { trunks } = (await this.store.read()).federation;
    return list.map((s) => ({ ...s, warnings: emergencyTrunkWarnings(trunks, s) }));
  }

  async liveHealth(caller: Principal, siteId: string): Promise<LiveHealth> {
    await this.get(caller, siteId);
    return this.fromSite(siteId, await this.rpc.request(siteId, Subjects.rpcHealth(siteId), {}, LiveHealth));
  }

  async liveTrace(caller: Principal, siteId: string, body: unknown): Promise<LiveTraceResponse> {
    await this.get(caller, siteId);
    const request = parseInput(LiveTraceRequest, body);
    return this.fromSite(siteId, await this.rpc.request(siteId, Subjects.rpcTrace(siteId), request, LiveTraceResponse));
  }

  /** Only the site's agent may subscribe to its subjects (nats-auth), but a reply naming another site is still refused. */
  private fromSite<T extends { siteId: string }>(siteId: string, reply: T): T {
    if (reply.siteId !== siteId) throw new AgentBadReplyError(`a reply for site ${siteId} names site ${reply.siteId}`);
    return reply;
  }
}
