import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { nameOf } from '@fedpbx/contracts';
import { z } from 'zod';
import { ROLES } from '../access/scope.js';
import { parseInput } from '../http/input.js';
import { AllowedBeforePasswordChange, Caller, Public } from './auth.guard.js';
import { AuthService, type SessionTokens } from './auth.service.js';
import type { Principal } from './principal.js';
import type { ApiTokenRecord } from './user.repository.js';

export const LoginBody = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) });
export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(256) });
export const ChangePasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) });
export const ApiTokenBody = z.strictObject({
  name: nameOf(80),
  /** Days until the token stops working: at most FEDPBX_API_TOKEN_MAX_DAYS, 90 (or that maximum if lower) when absent. */
  expiresInDays: z.number().int().min(1).optional(),
  /** Only reading routes (GET, and trace requests) answer the token. */
  readOnly: z.boolean().default(false),
  /** Limits the token to these of its user's grants (e.g. viewer of one site); absent: all of them. */
  grants: z
    .array(z.strictObject({ role: z.enum(ROLES), siteId: z.string().max(64).nullable().default(null) }))
    .min(1)
    .max(100)
    .optional(),
});

@Controller('api/v1')
export class AuthController {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  /** Opens a session: a short-lived access token and a one-use refresh token. Throttled per account and address. */
  @Public()
  @Post('auth/login')
  @HttpCode(200)
  login(@Body() body: unknown, @Req() req: FastifyRequest): Promise<SessionTokens> {
    const { username, password } = parseInput(LoginBody, body);
    return this.auth.login(username, password, req.ip);
  }

  /** A new access token and refresh token for a refresh token (used once; a reused one revokes its session). */
  @Public()
  @Post('auth/refresh')
  @HttpCode(200)
  refresh(@Body() body: unknown): Promise<SessionTokens> {
    return this.auth.refresh(parseInput(RefreshBody, body).refreshToken);
  }

  /** Ends the caller's session: its access and refresh tokens stop working at once. */
  @AllowedBeforePasswordChange()
  @Post('auth/logout')
  @HttpCode(204)
  async logout(@Caller() caller: Principal): Promise<void> {
    await this.auth.logout(caller);
  }

  /** The caller changes their own password (the current one is required). Their other sessions end. */
  @AllowedBeforePasswordChange()
  @Post('auth/password')
  @HttpCode(204)
  async changePassword(@Caller() caller: Principal, @Body() body: unknown, @Req() req: FastifyRequest): Promise<void> {
    const b = parseInput(ChangePasswordBody, body);
    await this.auth.changePassword(caller, b.currentPassword, b.newPassword, req.ip);
  }

  /** The caller and their rights, as sites: the console shows write controls only where writes are allowed. */
  @AllowedBeforePasswordChange()
  @Get('auth/me')
  me(@Caller() caller: Principal): {
    userId: string;
    username: string;
    via: string;
    headOffice: boolean;
    readOnly: boolean;
    mustChangePassword: boolean;
    readableSites: readonly string[] | 'all';
    writableSites: readonly string[] | 'all';
  } {
    const { scope } = caller;
    return {
      userId: caller.userId,
      username: caller.username,
      via: caller.via,
      headOffice: scope.headOffice,
      readOnly: caller.readOnly,
      mustChangePassword: caller.mustChangePassword,
      readableSites: scope.readableSites(),
      writableSites: scope.writableSites(),
    };
  }

  /** The caller's API tokens; `?all=true`: every user's (head office). */
  @Get('api-tokens')
  async listTokens(@Caller() caller: Principal, @Query('all') all?: string): Promise<{ items: ApiTokenRecord[] }> {
    return { items: await this.auth.listApiTokens(caller, all === 'true' || all === '1') };
  }

  /** The token is in this response only; the controller keeps its hash. A password session only. */
  @Post('api-tokens')
  @HttpCode(201)
  createToken(@Caller() caller: Principal, @Body() body: unknown): Promise<ApiTokenRecord & { token: string }> {
    return this.auth.createApiToken(caller, parseInput(ApiTokenBody, body));
  }

  /** The caller's own token; head office revokes any user's. */
  @Delete('api-tokens/:id')
  @HttpCode(204)
  async revokeToken(@Caller() caller: Principal, @Param('id') id: string): Promise<void> {
    await this.auth.revokeApiToken(caller, id);
  }
}
