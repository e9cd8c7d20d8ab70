import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type { AgentStatus, LiveHealth, LiveTraceResponse } from '@fedpbx/contracts';
import { Caller, ReadsOnly } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { AgentsService } from './agents.service.js';

@Controller('api/v1/agents')
export class AgentsController {
  constructor(@Inject(AgentsService) private readonly agents: AgentsService) {}

  /** Every site of the caller with what its agent last reported (offline with nulls when it never did). */
  @Get()
  async list(@Caller() caller: Principal): Promise<{ items: AgentStatus[] }> {
    return { items: await this.agents.list(caller) };
  }

  @Get(':siteId')
  async get(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<{ data: AgentStatus }> {
    return { data: await this.agents.get(caller, siteId) };
  }

  /** Asks the agent now (NATS request/reply): 504 when it does not answer in time, 503 without NATS. */
  @Get(':siteId/live-health')
  async liveHealth(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<{ data: LiveHealth }> {
    return { data: await this.agents.liveHealth(caller, siteId) };
  }

  /** The agent traces the call with its applied snapshot and live health (plus the request's what-ifs). */
  @ReadsOnly()
  @Post(':siteId/live-trace')
  @HttpCode(200)
  async liveTrace(@Caller() caller: Principal, @Param('siteId') siteId: string, @Body() body: unknown): Promise<{ data: LiveTraceResponse }> {
    return { data: await this.agents.liveTrace(caller, siteId, body) };
  }
}
