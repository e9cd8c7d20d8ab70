import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res, type Type } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import type { CollectionName } from '../federation/federation-change.js';
import { isDryRun, pageLimit } from '../http/input.js';
import { RESOURCE_KINDS, type ResourceKind } from './resource-kinds.js';
import { ResourceService, type WriteResponse } from './resource.service.js';
import type { Page } from './scoped-read.repository.js';

/**
 * The five routes of a federation object kind under /api/v1/<path>: list (keyset paging, `?siteId=`), get,
 * create, replace, delete. Writes take `?dryRun=true`. One class per kind, so Nest's route table names each.
 */
export function resourceController<C extends CollectionName>(kind: ResourceKind<C>): Type<unknown> {
  @Controller(`api/v1/${kind.path}`)
  class ResourceController {
    constructor(@Inject(ResourceService) private readonly service: ResourceService) {}

    @Get()
    list(@Caller() caller: Principal, @Query('limit') limit?: string, @Query('after') after?: string, @Query('siteId') siteId?: string): Promise<Page<Record<string, unknown>>> {
      return this.service.list(caller, kind, { limit: pageLimit(limit), after, siteId });
    }

    @Get(':id')
    async get(@Caller() caller: Principal, @Param('id') id: string): Promise<{ data: Record<string, unknown> }> {
      return { data: await this.service.get(caller, kind, id) };
    }

    @Post()
    @HttpCode(201)
    async create(@Caller() caller: Principal, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply, @Query('dryRun') dryRun?: string): Promise<WriteResponse> {
      const dry = isDryRun(dryRun);
      if (dry) void reply.status(200);
      return this.service.create(caller, kind, body, dry);
    }

    @Put(':id')
    update(@Caller() caller: Principal, @Param('id') id: string, @Body() body: unknown, @Query('dryRun') dryRun?: string): Promise<WriteResponse> {
      return this.service.update(caller, kind, id, body, isDryRun(dryRun));
    }

    @Delete(':id')
    remove(@Caller() caller: Principal, @Param('id') id: string, @Query('dryRun') dryRun?: string): Promise<WriteResponse> {
      return this.service.remove(caller, kind, id, isDryRun(dryRun));
    }
  }
  Object.defineProperty(ResourceController, 'name', { value: `${kind.objectType[0]?.toUpperCase()}${kind.objectType.slice(1)}Controller` });
  return ResourceController;
}

export const RESOURCE_CONTROLLERS = Object.values(RESOURCE_KINDS).map((k) => resourceController(k as ResourceKind));
