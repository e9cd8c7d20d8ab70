import { Controller, Get, Inject, Query } from '@nestjs/common';
import type { FederationIssue } from '@fedpbx/dialplan';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { InvalidInputError } from '../errors.js';
import { pageLimit } from '../http/input.js';
import { redactIssues } from '../resources/issue-redaction.js';
import { FederationWriter } from './federation-writer.js';
import { warningSummary, type WarningSummary } from './write-validation.js';

export interface WarningPage extends WarningSummary {
  readonly items: FederationIssue[];
  /** `?after=` for the next page, while there is one. */
  readonly next?: string;
}

/**
 * The current federation's validation warnings, all of them: a write's answer lists the first few and counts the
 * rest. Redacted for the caller as in a write's answer (#17 §5).
 */
@Controller('api/v1/warnings')
export class WarningsController {
  constructor(@Inject(FederationWriter) private readonly writer: FederationWriter) {}

  /** `?code=` one kind (`route-only-remote-trunks`...), `?limit=` per page (100), `?after=` the `next` of the page before. */
  @Get()
  async list(@Caller() caller: Principal, @Query('code') code?: string, @Query('limit') limit?: string, @Query('after') after?: string): Promise<WarningPage> {
    const n = pageLimit(limit);
    if (after !== undefined && !/^[0-9]{1,9}$/.test(after)) throw new InvalidInputError('invalid query', [{ path: 'after', message: 'the `next` of the page before' }]);
    const all = (await this.writer.currentValidation()).warnings;
    const chosen = code === undefined ? all : all.filter((w) => w.code === code);
    const start = after === undefined ? 0 : Number(after);
    const items = redactIssues(chosen.slice(start, start + n), caller.scope);
    return { items, ...warningSummary(all), ...(start + n < chosen.length ? { next: String(start + n) } : {}) };
  }
}
