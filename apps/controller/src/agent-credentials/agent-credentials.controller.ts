import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { isDryRun, parseInput } from '../http/input.js';
import { AgentCredentialsService, type AgentCredentialsPage, type AgentCredentialsRevocation } from './agent-credentials.service.js';
import { DecommissionBody, SiteDecommissionService, type DecommissionOutcome } from './site-decommission.service.js';

@Controller('api/v1')
export class AgentCredentialsController {
  constructor(
    @Inject(AgentCredentialsService) private readonly credentials: AgentCredentialsService,
    @Inject(SiteDecommissionService) private readonly decommissions: SiteDecommissionService,
  ) {}

  /** The site's agent credentials (keys, lifetimes, revocations; never a secret) and the hub's revocation state: every reader of the site. */
  @Get('sites/:siteId/agent-credentials')
  list(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<AgentCredentialsPage> {
    return this.credentials.list(caller, siteId);
  }

  /** Head office: the box was replaced or lost. Revokes every credential of the site and rotates its link secrets. Takes `?dryRun=true`. */
  @Post('sites/:siteId/agent-credentials/revoke')
  @HttpCode(200)
  revoke(@Caller() caller: Principal, @Param('siteId') siteId: string, @Query('dryRun') dryRun?: string): Promise<AgentCredentialsRevocation> {
    return this.credentials.revokeSite(caller, siteId, isDryRun(dryRun));
  }

  /** Head office: removes the site and its dependents, revokes its agent, deletes its bucket. `?dryRun=true` previews; a real run needs `{"confirm":"<siteId>"}`. */
  @Post('sites/:siteId/decommission')
  @HttpCode(200)
  decommission(@Caller() caller: Principal, @Param('siteId') siteId: string, @Body() body: unknown, @Query('dryRun') dryRun?: string): Promise<DecommissionOutcome> {
    return this.decommissions.decommission(caller, siteId, parseInput(DecommissionBody, body ?? {}), isDryRun(dryRun));
  }
}
