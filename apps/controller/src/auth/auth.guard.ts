import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthenticatedError } from '../errors.js';
import { AuthService } from './auth.service.js';
import type { Principal } from './principal.js';

const PUBLIC = 'fedpbx:public';
/** The route answers without authentication (login, health, the OpenAPI document). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

interface AuthedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
}

/** Every route needs a bearer token unless marked @Public(). */
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
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]{10,1024})$/.exec(header) : null;
    if (match?.[1] === undefined) throw new UnauthenticatedError();
    req.principal = await this.auth.authenticate(match[1]);
    return true;
  }
}

/** The authenticated caller (set by {@link AuthGuard}). */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (p === undefined) throw new UnauthenticatedError();
  return p;
});
