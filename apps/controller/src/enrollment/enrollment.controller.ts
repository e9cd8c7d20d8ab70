import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { EnrollRequest, type EnrollmentToken, type EnrollmentTokenIssued, type EnrollmentTokenPage, type EnrollResponse } from '@fedpbx/contracts';
import type { FastifyRequest } from 'fastify';
import { Caller, Public } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { isDryRun, pageLimit, parseInput } from '../http/input.js';
import { EnrollmentService } from './enrollment.service.js';

@Controller('api/v1')
export class EnrollmentController {
  constructor(@Inject(EnrollmentService) private readonly enrollment: EnrollmentService) {}

  /** Head office only. The token is in this response only; the controller keeps its hash. */
  @Post('sites/:siteId/enrollment-tokens')
  @HttpCode(201)
  issue(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<EnrollmentTokenIssued> {
    return this.enrollment.issue(caller, siteId);
  }

  /** The site's tokens newest first, with their state (never the token): every reader of the site. `?before=<id>` pages back. */
  @Get('sites/:siteId/enrollment-tokens')
  list(@Caller() caller: Principal, @Param('siteId') siteId: string, @Query('limit') limit?: string, @Query('before') before?: string): Promise<EnrollmentTokenPage> {
    return this.enrollment.list(caller, siteId, pageLimit(limit), before);
  }

  /** Head office only: the token can no longer be exchanged. Idempotent; 409 for a used token. Takes `?dryRun=true`. */
  @Delete('enrollment-tokens/:id')
  revoke(@Caller() caller: Principal, @Param('id') id: string, @Query('dryRun') dryRun?: string): Promise<{ dryRun: boolean; data: EnrollmentToken }> {
    return this.enrollment.revoke(caller, id, isDryRun(dryRun));
  }

  /** No login: the one-time token is the credential. The answer holds the agent's NATS credentials (secret). */
  @Public()
  @Post('enroll')
  @HttpCode(200)
  enroll(@Body() body: unknown, @Req() req: FastifyRequest): Promise<EnrollResponse> {
    return this.enrollment.enroll(parseInput(EnrollRequest, body), req.ip);
  }
}
