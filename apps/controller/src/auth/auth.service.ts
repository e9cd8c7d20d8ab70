import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Scope } from '../access/scope.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { NotFoundError, RateLimitedError, UnauthenticatedError } from '../errors.js';
import { AccessTokenCodec } from './access-token.js';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password-hasher.js';
import type { Principal } from './principal.js';
import { UserRepository, type ApiTokenRecord } from './user.repository.js';

const API_TOKEN_PREFIX = 'fpt_';
const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Login, access tokens, API tokens and the bootstrap admin. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly log = new Logger('auth');
  private readonly tokens: AccessTokenCodec;
  private readonly limiter: LoginRateLimiter;

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly users: UserRepository,
  ) {
    this.tokens = new AccessTokenCodec(config.FEDPBX_TOKEN_SECRET, config.FEDPBX_ACCESS_TOKEN_TTL_SEC);
    this.limiter = new LoginRateLimiter(config.FEDPBX_LOGIN_MAX_ATTEMPTS, config.FEDPBX_LOGIN_WINDOW_SEC * 1000);
  }

  /** Creates the head-office admin from the environment when the database has no user yet; never again after. */
  async onApplicationBootstrap(): Promise<void> {
    const username = this.config.FEDPBX_BOOTSTRAP_ADMIN_USER;
    const password = this.config.FEDPBX_BOOTSTRAP_ADMIN_PASSWORD;
    if (username === undefined || password === undefined) return;
    const passwordHash = await hashPassword(password);
    const created = await this.ds.transaction(async (m) => {
      if ((await this.users.count(m)) > 0) return false;
      await this.users.create(m, username, passwordHash, [{ role: 'head-office-admin', siteId: null }]);
      return true;
    });
    if (created) this.log.log(`bootstrap admin "${username}" created`);
  }

  async login(username: string, password: string, client: string): Promise<{ accessToken: string; expiresAt: string }> {
    const keys = [`user:${username}`, `client:${client}`];
    const wait = Math.max(...keys.map((k) => this.limiter.retryAfterSec(k)));
    if (wait > 0) throw new RateLimitedError(wait);
    const user = await this.users.credentials(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (user === undefined || !ok || user.disabled) {
      for (const k of keys) this.limiter.fail(k);
      throw new UnauthenticatedError('wrong user name or password');
    }
    for (const k of keys) this.limiter.succeed(k);
    const { token, expiresAt } = this.tokens.issue(user.id);
    return { accessToken: token, expiresAt };
  }

  /** The principal behind a bearer token (access token or API token), or an UnauthenticatedError. */
  async authenticate(bearer: string): Promise<Principal> {
    if (bearer.startsWith(API_TOKEN_PREFIX)) {
      const t = await this.users.tokenByHash(hashToken(bearer));
      if (t === undefined) throw new UnauthenticatedError('unknown or revoked API token');
      return this.principal(t.userId, 'api-token', t.id);
    }
    const userId = this.tokens.verify(bearer);
    if (userId === undefined) throw new UnauthenticatedError('invalid or expired access token');
    return this.principal(userId, 'password');
  }

  /** A new API token of the caller; the token itself is returned this once and only its hash is kept. */
  async createApiToken(caller: Principal, name: string): Promise<ApiTokenRecord & { token: string }> {
    const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await this.users.createToken(caller.userId, name, hashToken(token), new Date(Date.now() + 90 * 86_400_000));
    return { ...record, token };
  }

  listApiTokens(caller: Principal): Promise<ApiTokenRecord[]> {
    return this.users.tokens(caller.userId);
  }

  async revokeApiToken(caller: Principal, id: string): Promise<void> {
    if (!(await this.users.revokeToken(caller.userId, id))) throw new NotFoundError('apiToken', id);
  }

  private async principal(userId: string, via: Principal['via'], tokenId?: string): Promise<Principal> {
    const user = await this.users.get(userId);
    if (user === undefined || user.disabled) throw new UnauthenticatedError('user unknown or disabled');
    return { userId, username: user.username, via, ...(tokenId !== undefined ? { tokenId } : {}), scope: Scope.of(user.grants) };
  }
}
