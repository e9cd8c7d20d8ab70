import { Controller, Get, Inject } from '@nestjs/common';
import type { ActiveCallsView } from '@fedpbx/contracts';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { ActiveCallsService } from './active-calls.js';

@Controller('api/v1')
export class ActiveCallsController {
  constructor(@Inject(ActiveCallsService) private readonly calls: ActiveCallsService) {}

  /** Calls in progress at the caller's sites, as their agents reported them in the last 30 s; a call across sites is one entry. */
  @Get('active-calls')
  list(@Caller() caller: Principal): ActiveCallsView {
    return this.calls.view(caller.scope);
  }
}
