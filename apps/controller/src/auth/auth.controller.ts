import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../http/input.js';
import { Caller, Public } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import type { Principal } from './principal.js';
import type { ApiTokenRecord } from './user.repository.js';

export const LoginBody = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) });
export const ApiTokenBody = z.strictObject({ name: z.string().min(1).max(80) });

@Controller('api/v1')
export class AuthController {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  login(@Body() body: unknown, @Req() req: FastifyRequest): Promise<{ accessToken: string; expiresAt: string }> {
    const { username, password } = parseInput(LoginBody, body);
    return this.auth.login(username, password, req.ip);
  }

  /** The caller and their rights, as sites: the console shows write controls only where writes are allowed. */
  @Get('auth/me')
  me(@Caller() caller: Principal): { userId: string; username: string; via: string; headOffice: boolean; readableSites: readonly string[] | 'all'; writableSites: readonly string[] | 'all' } {
    const { scope } = caller;
    return { userId: caller.userId, username: caller.username, via: caller.via, headOffice: scope.headOffice, readableSites: scope.readableSites(), writableSites: scope.writableSites() };
  }

  @Get('api-tokens')
  async listTokens(@Caller() caller: Principal): Promise<{ items: ApiTokenRecord[] }> {
    return { items: await this.auth.listApiTokens(caller) };
  }

  /** The token is in this response only; the controller keeps its hash. */
  @Post('api-tokens')
  @HttpCode(201)
  createToken(@Caller() caller: Principal, @Body() body: unknown): Promise<ApiTokenRecord & { token: string }> {
    return this.auth.createApiToken(caller, parseInput(ApiTokenBody, body).name);
  }

  @Delete('api-tokens/:id')
  @HttpCode(204)
  async revokeToken(@Caller() caller: Principal, @Param('id') id: string): Promise<void> {
    await this.auth.revokeApiToken(caller, id);
  }
}
