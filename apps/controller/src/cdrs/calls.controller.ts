import { Controller, Get, Inject, Param } from '@nestjs/common';
import { FederationCallId, type CallDetail } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { NotFoundError } from '../errors.js';
import { CdrRepository } from './cdr.repository.js';

/**
 * One call across the federation: the CDRs of every site it passed through share its call id
 * (`<origin site>/<linkedid there>`, carried between sites in the X-Fedpbx-Call header), so the path is that id.
 */
@Controller('api/v1/calls')
export class CallsController {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CdrRepository) private readonly cdrs: CdrRepository,
  ) {}

  /**
   * The call with its legs at the caller's sites, oldest first. Legs at other sites are counted, never shown; a
   * call with no leg the caller may read is 404, as if it did not exist.
   */
  @Get(':originSiteId/:linkedId')
  async get(@Caller() caller: Principal, @Param('originSiteId') originSiteId: string, @Param('linkedId') linkedId: string): Promise<CallDetail> {
    const callId = `${originSiteId}/${linkedId}`;
    if (!FederationCallId.safeParse(callId).success) throw new NotFoundError('call', callId);
    const { legs, elsewhere } = await this.cdrs.legsOf(this.ds.manager, callId, caller.scope.readableSites());
    const first = legs[0];
    if (first === undefined) throw new NotFoundError('call', callId);
    const ends = legs.map((l) => l.end).sort();
    return {
      callId,
      originSiteId,
      start: first.start,
      end: ends[ends.length - 1] ?? first.end,
      billSec: Math.max(...legs.map((l) => l.billSec)),
      answered: legs.some((l) => l.disposition === 'ANSWERED'),
      sites: [...new Set(legs.map((l) => l.siteId))],
      legs,
      legsElsewhere: elsewhere,
    };
  }
}

