import { Controller, Get } from '@nestjs/common';
import { Public } from '../auth/auth.guard.js';

@Public()
@Controller('api/v1/health')
export class HealthController {
  @Get()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
