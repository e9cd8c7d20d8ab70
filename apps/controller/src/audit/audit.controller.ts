import { Controller, Get, Inject, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { pageLimit } from '../http/input.js';
import { AuditRepository, type AuditEntry } from './audit.repository.js';

@Controller('api/v1/audit')
export class AuditController {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(AuditRepository) private readonly audit: AuditRepository,
  ) {}

  /** Newest first; `?before=<id>` pages back. Site admins and viewers see their sites' entries. */
  @Get()
  async list(@Caller() caller: Principal, @Query('limit') limit?: string, @Query('before') before?: string): Promise<{ items: AuditEntry[]; next?: string }> {
    const n = pageLimit(limit);
    const items = await this.audit.list(this.ds.manager, caller.scope, n, before !== undefined && /^[0-9]{1,18}$/.test(before) ? before : undefined);
    const last = items[items.length - 1];
    return items.length === n && last !== undefined ? { items, next: last.id } : { items };
  }
}
