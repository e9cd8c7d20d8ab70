import { Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { TraceRequest, type TraceResult } from '@fedpbx/contracts';
import { Caller, ReadsOnly } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { FederationStore } from '../federation/federation-store.js';
import { parseInput } from '../http/input.js';
import { TraceService } from './trace.service.js';

export interface NumberingPlanView {
  readonly hubSiteId?: string;
  readonly sites: { id: string; name: string; prefix?: string; prefixRequired: boolean }[];
  readonly numberRanges: { id: string; siteId: string; from: string; to: string }[];
}

/** Views of the whole federation every admin may read: the numbering plan, and call traces at their sites. */
@Controller('api/v1')
export class FederationViewsController {
  constructor(
    @Inject(FederationStore) private readonly store: FederationStore,
    @Inject(TraceService) private readonly traces: TraceService,
  ) {}

  @Get('numbering-plan')
  async numberingPlan(): Promise<NumberingPlanView> {
    const { federation: f } = await this.store.read();
    return {
      ...(f.hubSiteId !== undefined ? { hubSiteId: f.hubSiteId } : {}),
      sites: f.sites.map((s) => ({ id: s.id, name: s.name, ...(s.prefix !== undefined ? { prefix: s.prefix } : {}), prefixRequired: s.prefixRequired })),
      numberRanges: f.numberRanges.map((r) => ({ id: r.id, siteId: r.siteId, from: r.from, to: r.to })),
    };
  }

  @ReadsOnly()
  @Post('trace')
  @HttpCode(200)
  trace(@Caller() caller: Principal, @Body() body: unknown): Promise<TraceResult> {
    return this.traces.trace(caller, parseInput(TraceRequest, body));
  }
}
