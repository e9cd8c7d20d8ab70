import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../database/database-unavailable.js';
import { DomainError, RateLimitedError, ValidationConflictError, type DomainErrorCode } from '../errors.js';
import { WARNINGS_LISTED, warningSummary } from '../federation/write-validation.js';

function statusOf(code: DomainErrorCode): number {
  switch (code) {
    case 'invalid-input':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
    case 'property-forbidden':
    case 'password-change-required':
      return 403;
    case 'not-found':
      return 404;
    case 'already-exists':
    case 'validation-conflict':
    case 'state-conflict':
    case 'invariant-violated':
      return 409;
    case 'rate-limited':
      return 429;
  }
}

/**
 * Typed errors become HTTP here and only here: `{ error: { code, message, ...details } }`. A 409 carries the
 * validation issues (each naming its objects). The database being away is a 503 the moment it is noticed, not a
 * hang: the client tries again (on any replica) once it is back. Anything unexpected is a 500 with no internals in the body.
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
        // As in a write's answer: the first warnings and their counts (GET /api/v1/warnings lists the federation's).
        body['warnings'] = error.warnings.slice(0, WARNINGS_LISTED);
        Object.assign(body, warningSummary(error.warnings));
      }
      if (error instanceof RateLimitedError) void reply.header('retry-after', String(error.retryAfterSec));
      void reply.status(statusOf(error.code)).send({ error: body });
      return;
    }
    if (error instanceof HttpException) {
      void reply.status(error.getStatus()).send({ error: frameworkError(error.getStatus(), error.message) });
      return;
    }
    if (isDatabaseUnavailable(error)) {
      this.log.warn(`database unavailable: ${error instanceof Error ? error.message : String(error)}`);
      void reply.header('retry-after', '2').status(503).send({ error: { code: 'database-unavailable', message: 'the database is unavailable: try again shortly' } });
      return;
    }
    this.log.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    void reply.status(500).send({ error: { code: 'internal', message: 'internal error' } });
  }
}

/**
 * Nest's and Fastify's own refusals (unknown route, malformed JSON, body over the limit, other media types) in
 * the shape of ours: a malformed body is an `invalid-input` with one problem at the body's root, like every 400.
 */
function frameworkError(status: number, message: string): Record<string, unknown> {
  switch (status) {
    case 400:
      return { code: 'invalid-input', message: 'invalid body', problems: [{ path: '', message, code: 'invalid-json' }] };
    case 404:
      return { code: 'not-found', message };
    case 413:
      return { code: 'payload-too-large', message };
    case 415:
      return { code: 'unsupported-media-type', message };
    default:
      return { code: `http-${status}`, message };
  }
}
