import { Body, Controller, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/principal.js';
import { isDryRun, parseInput } from '../http/input.js';
import { LinkGenerationService } from './link-generation.service.js';
import type { WriteResponse } from './resource.service.js';

export const GenerateLinksBody = z.strictObject({ topology: z.enum(['full-mesh', 'hub-and-spoke']), hubSiteId: z.string().optional() });

@Controller('api/v1/links')
export class LinksController {
  constructor(@Inject(LinkGenerationService) private readonly links: LinkGenerationService) {}

  @Post('generate')
  @HttpCode(200)
  generate(@Caller() caller: Principal, @Body() body: unknown, @Query('dryRun') dryRun?: string): Promise<WriteResponse> {
    const b = parseInput(GenerateLinksBody, body);
    return this.links.generate(caller, b.topology, b.hubSiteId, isDryRun(dryRun));
  }
}
