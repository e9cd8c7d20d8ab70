import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, PasswordChangeRequiredError, UnauthenticatedError } from '../errors.js';
import { AuthService } from './auth.service.js';
import type { Principal } from './principal.js';

const PUBLIC = 'fedpbx:public';
const BEFORE_PASSWORD_CHANGE = 'fedpbx:before-password-change';
const READS = 'fedpbx:reads';
/** The route answers without authentication (login, health, the OpenAPI document). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);
/** The route answers a session whose password head office reset (who am I, change password, sign out). */
export const AllowedBeforePasswordChange = (): MethodDecorator => SetMetadata(BEFORE_PASSWORD_CHANGE, true);
/** A POST that only reads (a trace): read-only API tokens may call it. */
export const ReadsOnly = (): MethodDecorator => SetMetadata(READS, true);

interface AuthedRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
}

/**
 * Every route needs a bearer token unless marked @Public(). The scheme is case-insensitive (RFC 9110 §11.1:
 * "bearer" and "Bearer" are the same scheme; RFC 6750 §2.1 for the token syntax). A read-only API token gets
 * reading routes only; a session with a reset password gets only the routes that let it set a new one.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers['authorization'];
    const match = typeof header === 'string' ? /^bearer +([A-Za-z0-9._~+/=-]{10,1024})$/i.exec(header.trim()) : null;
    if (match?.[1] === undefined) throw new UnauthenticatedError();
    const principal = await this.auth.authenticate(match[1]);
    req.principal = principal;
    if (principal.mustChangePassword && this.reflector.get<boolean>(BEFORE_PASSWORD_CHANGE, ctx.getHandler()) !== true) throw new PasswordChangeRequiredError();
    if (principal.readOnly && req.method !== 'GET' && req.method !== 'HEAD' && this.reflector.get<boolean>(READS, ctx.getHandler()) !== true) {
      throw new ForbiddenError('this API token is read-only');
    }
    return true;
  }
}

/** The authenticated caller (set by {@link AuthGuard}). */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (p === undefined) throw new UnauthenticatedError();
  return p;
});
