import { Body, Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { EnrollRequest, type EnrollmentTokenIssued, type EnrollResponse } from '@fedpbx/contracts';
import type { FastifyRequest } from 'fastify';
import { Caller, Public } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { parseInput } from '../http/input.js';
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

  /** No login: the one-time token is the credential. The answer holds the agent's NATS credentials (secret). */
  @Public()
  @Post('enroll')
  @HttpCode(200)
  enroll(@Body() body: unknown, @Req() req: FastifyRequest): Promise<EnrollResponse> {
    return this.enrollment.enroll(parseInput(EnrollRequest, body), req.ip);
  }
}
