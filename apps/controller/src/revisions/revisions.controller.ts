import { Controller, Get, Inject, Param, Post, Query, HttpCode } from '@nestjs/common';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { InvalidInputError } from '../errors.js';
import { isDryRun, pageLimit } from '../http/input.js';
import type { WriteResponse } from '../resources/resource.service.js';
import type { RevisionSummary } from './revision.repository.js';
import { RevisionsService } from './revisions.service.js';

const revisionNumber = (v: string | undefined, path = 'revision'): number => {
  if (v === undefined || !/^[0-9]{1,9}$/.test(v)) throw new InvalidInputError('invalid revision', [{ path, message: 'a revision number' }]);
  return Number(v);
};

@Controller('api/v1/sites/:siteId/revisions')
export class RevisionsController {
  constructor(@Inject(RevisionsService) private readonly revisions: RevisionsService) {}

  @Get()
  async list(@Caller() caller: Principal, @Param('siteId') siteId: string, @Query('limit') limit?: string, @Query('before') before?: string): Promise<{ items: RevisionSummary[] }> {
    return { items: await this.revisions.list(caller, siteId, pageLimit(limit), before === undefined ? undefined : revisionNumber(before)) };
  }

  /** `?from=A&to=B`: objects added, removed and changed between two revisions of the site. */
  @Get('diff')
  async diff(@Caller() caller: Principal, @Param('siteId') siteId: string, @Query('from') from?: string, @Query('to') to?: string): Promise<{ data: unknown }> {
    return { data: await this.revisions.diff(caller, siteId, revisionNumber(from, 'from'), revisionNumber(to, 'to')) };
  }

  @Get(':revision')
  async get(@Caller() caller: Principal, @Param('siteId') siteId: string, @Param('revision') revision: string): Promise<{ data: unknown }> {
    return { data: await this.revisions.get(caller, siteId, revisionNumber(revision)) };
  }

  @Post(':revision/rollback')
  @HttpCode(200)
  rollback(@Caller() caller: Principal, @Param('siteId') siteId: string, @Param('revision') revision: string, @Query('dryRun') dryRun?: string): Promise<WriteResponse> {
    return this.revisions.rollback(caller, siteId, revisionNumber(revision), isDryRun(dryRun));
  }
}
