import { Controller, Get, Inject, Param } from '@nestjs/common';
import type { SurvivabilityReport } from '@fedpbx/contracts';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { SurvivabilityService } from './survivability.service.js';

/** `GET /api/v1/sites/:siteId/survivability`: what the site keeps when the centre, a link, a trunk or its agent fails. */
@Controller('api/v1')
export class SurvivabilityController {
  constructor(@Inject(SurvivabilityService) private readonly service: SurvivabilityService) {}

  @Get('sites/:siteId/survivability')
  report(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<SurvivabilityReport> {
    return this.service.report(caller, siteId);
  }
}
