import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { z } from 'zod';
import { ROLES } from '../access/scope.js';
import { parseInput } from '../http/input.js';
import { Caller } from './auth.guard.js';
import type { Principal } from './principal.js';
import type { SessionRecord } from './session.repository.js';
import type { UserRecord } from './user.repository.js';
import { UsersService } from './users.service.js';

export const GrantBody = z.strictObject({ role: z.enum(ROLES), siteId: z.string().nullable().default(null) });
export const CreateUserBody = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/),
  /** The password policy (length, common passwords) is checked by the service: FEDPBX_PASSWORD_MIN_LENGTH. */
  password: z.string().min(1).max(256),
  grants: z.array(GrantBody).max(1000).default([]),
});
export const GrantsBody = z.strictObject({ grants: z.array(GrantBody).max(1000) });
export const ResetPasswordBody = z.strictObject({ newPassword: z.string().min(1).max(256) });
export const DisabledBody = z.strictObject({ disabled: z.boolean() });

@Controller('api/v1/users')
export class UsersController {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}

  @Get()
  async list(@Caller() caller: Principal): Promise<{ items: UserRecord[] }> {
    return { items: await this.users.list(caller) };
  }

  @Get(':id')
  async get(@Caller() caller: Principal, @Param('id') id: string): Promise<{ data: UserRecord }> {
    return { data: await this.users.get(caller, id) };
  }

  @Post()
  @HttpCode(201)
  async create(@Caller() caller: Principal, @Body() body: unknown): Promise<{ data: UserRecord }> {
    const b = parseInput(CreateUserBody, body);
    return { data: await this.users.create(caller, b.username, b.password, b.grants) };
  }

  @Put(':id/grants')
  async grants(@Caller() caller: Principal, @Param('id') id: string, @Body() body: unknown): Promise<{ data: UserRecord }> {
    return { data: await this.users.replaceGrants(caller, id, parseInput(GrantsBody, body).grants) };
  }

  /** Head office sets the password; the user must change it at next sign-in and their sessions end now. */
  @Post(':id/password')
  @HttpCode(200)
  async resetPassword(@Caller() caller: Principal, @Param('id') id: string, @Body() body: unknown): Promise<{ data: UserRecord }> {
    return { data: await this.users.resetPassword(caller, id, parseInput(ResetPasswordBody, body).newPassword) };
  }

  @Get(':id/sessions')
  async sessions(@Caller() caller: Principal, @Param('id') id: string): Promise<{ items: SessionRecord[] }> {
    return { items: await this.users.sessionsOf(caller, id) };
  }

  /** Head office ends every session of the user at once. */
  @Delete(':id/sessions')
  revokeSessions(@Caller() caller: Principal, @Param('id') id: string): Promise<{ revoked: number }> {
    return this.users.revokeSessions(caller, id);
  }

  /** Disables or enables a user (`{"disabled": true}`); the last active head-office admin cannot be disabled (409). */
  @Put(':id/disabled')
  async disabled(@Caller() caller: Principal, @Param('id') id: string, @Body() body: unknown): Promise<{ data: UserRecord }> {
    return { data: await this.users.setDisabled(caller, id, parseInput(DisabledBody, body).disabled) };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Caller() caller: Principal, @Param('id') id: string): Promise<void> {
    await this.users.remove(caller, id);
  }
}
