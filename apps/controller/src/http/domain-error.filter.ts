import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError, RateLimitedError, ValidationConflictError, type DomainErrorCode } from '../errors.js';

function statusOf(code: DomainErrorCode): number {
  switch (code) {
    case 'invalid-input':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
    case 'property-forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'already-exists':
    case 'validation-conflict':
    case 'state-conflict':
      return 409;
    case 'rate-limited':
      return 429;
  }
}

/**
 * Typed errors become HTTP here and only here: `{ error: { code, message, ...details } }`. A 409 carries the
 * validation issues (each naming its objects). Anything unexpected is a 500 with no internals in the body.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof DomainError) {
      const body: Record<string, unknown> = { code: error.code, message: error.message, ...error.details };
      if (error instanceof ValidationConflictError) {
        body['issues'] = error.issues;
        body['warnings'] = error.warnings;
      }
      if (error instanceof RateLimitedError) void reply.header('retry-after', String(error.retryAfterSec));
      void reply.status(statusOf(error.code)).send({ error: body });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      // Nest's own errors: unknown route (404), malformed JSON (400), ...
      void reply.status(status).send({ error: { code: status === 404 ? 'not-found' : status === 400 ? 'invalid-input' : `http-${status}`, message: error.message } });
      return;
    }
    this.log.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    void reply.status(500).send({ error: { code: 'internal', message: 'internal error' } });
  }
}
