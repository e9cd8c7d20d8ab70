import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.guard.js';
import { Readiness, type ReadinessReport } from './readiness.js';

/**
 * Probes for a load balancer or an orchestrator in front of several controller replicas. `/healthz` (liveness):
 * the process answers - restart it when it does not. `/readyz` (readiness): the database and NATS answer now -
 * send it no requests while it says 503. `/api/v1/health` is the older liveness path (kept for existing probes).
 */
@Public()
@Controller()
export class HealthController {
  constructor(private readonly readiness: Readiness) {}

  @Get('api/v1/health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('healthz')
  liveness(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** 200 `{status:'ready', checks}`, or 503 `{status:'unavailable', down:[...], checks}` naming what is down. */
  @Get('readyz')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ready' | 'unavailable'; down?: string[]; checks: ReadinessReport['checks'] }> {
    const { ready, checks } = await this.readiness.check();
    void reply.header('cache-control', 'no-store');
    if (ready) return { status: 'ready', checks };
    void reply.status(503);
    return { status: 'unavailable', down: Object.entries(checks).flatMap(([name, state]) => (state === 'down' ? [name] : [])), checks };
  }
}
