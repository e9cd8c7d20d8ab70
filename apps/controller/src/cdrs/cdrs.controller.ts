import { Controller, Get, Inject, Query } from '@nestjs/common';
import { CdrQuery, type CdrPage } from '@fedpbx/contracts';
import { DataSource } from 'typeorm';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { parseInput } from '../http/input.js';
import { decodeCdrCursor, encodeCdrCursor } from './cdr-cursor.js';
import { CdrRepository } from './cdr.repository.js';

@Controller('api/v1/cdrs')
export class CdrsController {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CdrRepository) private readonly cdrs: CdrRepository,
  ) {}

  /**
   * Call records of the caller's sites, newest first, filtered by CdrQuery; `nextCursor` fetches the next page.
   * A `siteId` filter outside the caller's sites yields an empty page, like every other list.
   */
  @Get()
  async list(@Caller() caller: Principal, @Query() query: Record<string, unknown>): Promise<CdrPage> {
    const { limit, cursor, ...filters } = parseInput(CdrQuery, query, 'query');
    const sites = caller.scope.readableSites();
    const items = await this.cdrs.search(this.ds.manager, { filters, sites, after: cursor === undefined ? undefined : decodeCdrCursor(cursor), limit: limit + 1 });
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: items.length > limit && last !== undefined ? encodeCdrCursor({ start: last.start, siteId: last.siteId, cdrId: last.cdrId }) : null };
  }
}
