import { Body, Controller, Headers, HttpCode, Inject, Post, Query, Res, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { isDryRun } from '../http/input.js';
import { ImportService, type ImportResponse } from './import.service.js';

const CSV_LIMIT = 64 * 1024 * 1024;

/**
 * `POST /api/v1/import` (head office): a JSON body of arrays by kind, or a `text/csv` file of one kind
 * (`?kind=sites|numberRanges|extensions`). All or nothing; `?dryRun=true` validates without saving.
 * 201 on import, 200 on a dry run, 400 with `problems: [{ kind, row, path, message }]`, 409 with the validation issues.
 */
@Controller('api/v1/import')
export class ImportController implements OnModuleInit {
  constructor(
    @Inject(ImportService) private readonly imports: ImportService,
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    if (!fastify.hasContentTypeParser('text/csv')) {
      fastify.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: CSV_LIMIT }, (_req, body, done) => done(null, body));
    }
  }

  @Post()
  @HttpCode(201)
  async import(
    @Caller() caller: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('content-type') contentType?: string,
    @Query('dryRun') dryRun?: string,
    @Query('kind') kind?: string,
  ): Promise<ImportResponse> {
    this.imports.authorize(caller);
    const dry = isDryRun(dryRun);
    if (dry) void reply.status(200);
    const csv = contentType?.toLowerCase().startsWith('text/csv') === true;
    const rows = csv ? this.imports.fromCsv(kind, typeof body === 'string' ? body : '') : this.imports.fromJson(body);
    return this.imports.import(caller, rows, dry);
  }
}
