import { Body, Controller, Get, Inject, Param, Put } from '@nestjs/common';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { CallFlowLayoutService, type CallFlowLayoutView } from './call-flow-layout.service.js';

/** `/api/v1/call-flows/:id/layout`: where the console draws the flow's nodes (no revision, no rollout). */
@Controller('api/v1/call-flows')
export class CallFlowLayoutController {
  constructor(@Inject(CallFlowLayoutService) private readonly layouts: CallFlowLayoutService) {}

  @Get(':id/layout')
  async get(@Caller() caller: Principal, @Param('id') id: string): Promise<{ data: CallFlowLayoutView }> {
    return { data: await this.layouts.get(caller, id) };
  }

  @Put(':id/layout')
  async put(@Caller() caller: Principal, @Param('id') id: string, @Body() body: unknown): Promise<{ data: CallFlowLayoutView }> {
    return { data: await this.layouts.put(caller, id, body) };
  }
}
