import { Controller, Get, Inject, Param } from '@nestjs/common';
import type { SiteRollout } from '@fedpbx/contracts';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { RolloutService } from './rollout.service.js';

@Controller('api/v1')
export class RolloutController {
  constructor(@Inject(RolloutService) private readonly rollout: RolloutService) {}

  /** Every site the caller may read: its head revision, what is published, what its agent applied or refused. */
  @Get('rollout')
  async list(@Caller() caller: Principal): Promise<{ items: SiteRollout[] }> {
    return { items: await this.rollout.list(caller) };
  }

  @Get('sites/:siteId/rollout')
  async get(@Caller() caller: Principal, @Param('siteId') siteId: string): Promise<{ data: SiteRollout }> {
    return { data: await this.rollout.get(caller, siteId) };
  }
}
