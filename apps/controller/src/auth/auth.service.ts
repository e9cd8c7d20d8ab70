import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { narrowGrants, Scope, type Grant } from '../access/scope.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { ForbiddenError, InvalidInputError, NotFoundError, RateLimitedError, UnauthenticatedError } from '../errors.js';
import { ControllerKeys } from '../database/controller-keys.js';
import { FederationStore } from '../federation/federation-store.js';
import { AccessTokenCodec } from './access-token.js';
import { LoginThrottle, type Lockout } from './login-throttle.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password-hasher.js';
import { passwordProblems } from './password-policy.js';
import { actorName, type Principal } from './principal.js';
import { SessionRepository } from './session.repository.js';
import { UserRepository, type ApiTokenRecord, type ApiTokenScope } from './user.repository.js';

const API_TOKEN_PREFIX = 'fpt_';
const REFRESH_TOKEN_PREFIX = 'fpr_';
const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SessionTokens {
  readonly accessToken: string;
  /** When the access token expires: refresh before then. */
  readonly expiresAt: string;
  /** One use: each refresh answers a new one. Presenting a used one again revokes the session. */
  readonly refreshToken: string;
  readonly sessionId: string;
  /** The session's absolute end (FEDPBX_SESSION_MAX_SEC after sign-in). */
  readonly sessionExpiresAt: string;
  /** Head office reset the password: only POST /auth/password (and /auth/me, /auth/logout) answer until it is changed. */
  readonly mustChangePassword: boolean;
}

export interface NewApiToken {
  readonly name: string;
  readonly expiresInDays?: number | undefined;
  readonly readOnly: boolean;
  readonly grants?: readonly Grant[] | undefined;
}

/** Login with throttling, sessions with rotating refresh tokens, passwords, API tokens and the bootstrap admin. */
@Injectable()
export class AuthService implements OnModuleInit, OnApplicationBootstrap {
  private readonly log = new Logger('auth');
  private tokens!: AccessTokenCodec;

  constructor(
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditRepository,
    private readonly store: FederationStore,
    private readonly keys: ControllerKeys,
  ) {}

  /**
   * The access-token key: FEDPBX_TOKEN_SECRET, or else one kept in the database, so that a token one replica
   * issued works at every other (no sticky sessions) and after a restart. Setting the secret keeps the key out of
   * the database, where whoever can read it could otherwise mint access tokens for live sessions.
   */
  async onModuleInit(): Promise<void> {
    const secret = this.config.FEDPBX_TOKEN_SECRET ?? (await this.keys.shared('access-token-hmac'));
    this.tokens = new AccessTokenCodec(secret, this.config.FEDPBX_ACCESS_TOKEN_TTL_SEC);
  }

  /** Creates the head-office admin from the environment when the database has no user yet; never again after. */
  async onApplicationBootstrap(): Promise<void> {
    const username = this.config.FEDPBX_BOOTSTRAP_ADMIN_USER;
    const password = this.config.FEDPBX_BOOTSTRAP_ADMIN_PASSWORD;
    if (username === undefined || password === undefined) return;
    const passwordHash = await hashPassword(password);
    const created = await this.ds.transaction(async (m) => {
      // Replicas starting together: one creates the admin, the others then see a user and leave it.
      await this.users.lockHeadOfficeAdmins(m);
      if ((await this.users.count(m)) > 0) return false;
      await this.users.create(m, username, passwordHash, [{ role: 'head-office-admin', siteId: null }]);
      return true;
    });
    if (created) this.log.log(`bootstrap admin "${username}" created`);
  }

  /**
   * Checks the password under the login throttle (login-throttle.ts) and opens a session. Every failure counts;
   * a counter that starts backing off is written to the audit log (`auth.lockout`).
   */
  async login(username: string, password: string, source: string): Promise<SessionTokens> {
    const now = new Date();
    const user = await this.users.credentials(username);
    const known = user !== undefined && (await this.throttle.isKnownSource(user.id, source));
    const wait = await this.throttle.retryAfterSec(username, source, known, now);
    if (wait > 0) throw new RateLimitedError(wait);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (user === undefined || !ok || user.disabled) {
      await this.ds.transaction(async (m) => this.recordLockouts(m, await this.throttle.fail(m, username, source, now)));
      throw new UnauthenticatedError('wrong user name or password');
    }
    return this.ds.transaction(async (m) => {
      await this.throttle.succeed(m, user.id, username, source, now);
      await this.sessions.purgeEnded(m, now, this.config.FEDPBX_SESSION_IDLE_SEC);
      const refreshToken = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const sessionExpiresAt = new Date(now.getTime() + this.config.FEDPBX_SESSION_MAX_SEC * 1000);
      const sessionId = await this.sessions.create(m, user.id, source, now, sessionExpiresAt, hashToken(refreshToken));
      const access = this.tokens.issue(user.id, sessionId);
      return { accessToken: access.token, expiresAt: access.expiresAt, refreshToken, sessionId, sessionExpiresAt: sessionExpiresAt.toISOString(), mustChangePassword: user.mustChangePassword };
    });
  }

  /**
   * Exchanges a refresh token for a new access token and a new refresh token (rotation). A refresh token that was
   * rotated already was copied: its whole session is revoked (audited as `session.refresh-reuse`) and the answer
   * is 401, so the thief's copy and the owner's both stop.
   */
  async refresh(refreshToken: string): Promise<SessionTokens> {
    const now = new Date();
    const outcome = await this.ds.transaction(async (m): Promise<SessionTokens | 'ended' | 'reused'> => {
      const row = await this.sessions.refreshToken(m, hashToken(refreshToken));
      if (row === undefined) return 'ended';
      const session = await this.sessions.live(m, row.sessionId, now, this.config.FEDPBX_SESSION_IDLE_SEC, true);
      if (session === undefined) return 'ended';
      if (row.rotatedAt !== null) {
        await this.sessions.revoke(m, session.id, 'refresh-token-reuse', now);
        const user = await this.users.get(session.userId, m);
        await this.audit.append(m, [
          {
            actor: `${user?.username ?? session.userId} (refresh token)`,
            action: 'session.refresh-reuse',
            objectType: 'session',
            objectId: session.id,
            siteIds: [],
            after: { userId: session.userId, username: user?.username, rotatedAt: row.rotatedAt.toISOString(), revoked: true },
          },
        ]);
        return 'reused';
      }
      const user = await this.users.get(session.userId, m);
      if (user === undefined || user.disabled) return 'ended';
      const next = `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      await this.sessions.rotate(m, session.id, row.tokenHash, hashToken(next), now);
      const access = this.tokens.issue(user.id, session.id);
      return { accessToken: access.token, expiresAt: access.expiresAt, refreshToken: next, sessionId: session.id, sessionExpiresAt: session.expiresAt.toISOString(), mustChangePassword: user.mustChangePassword };
    });
    if (outcome === 'ended') throw new UnauthenticatedError('session ended or refresh token unknown');
    if (outcome === 'reused') throw new UnauthenticatedError('refresh token was used before: the session is revoked');
    return outcome;
  }

  /** Signs the caller's session out: its access and refresh tokens stop at once. */
  async logout(caller: Principal): Promise<void> {
    if (caller.sessionId === undefined) throw new ForbiddenError('an API token has no session; revoke the token instead');
    const sessionId = caller.sessionId;
    await this.ds.transaction((m) => this.sessions.revoke(m, sessionId, 'logout', new Date()));
  }

  /** The principal behind a bearer token (access token or API token), or an UnauthenticatedError. */
  async authenticate(bearer: string): Promise<Principal> {
    const now = new Date();
    if (bearer.startsWith(API_TOKEN_PREFIX)) {
      const t = await this.users.tokenByHash(hashToken(bearer), now);
      if (t === undefined) throw new UnauthenticatedError('unknown, expired or revoked API token');
      const user = await this.enabledUser(t.userId);
      await this.users.touchToken(t, now);
      // The token's rights are its grants that its user still holds: taking a grant from the user takes it from the token.
      const grants = t.grants === undefined ? user.grants : narrowGrants(user.grants, t.grants);
      return { userId: user.id, username: user.username, via: 'api-token', tokenId: t.id, grants, readOnly: t.readOnly, mustChangePassword: false, scope: Scope.of(grants, t.readOnly) };
    }
    const claims = this.tokens.verify(bearer);
    if (claims === undefined) throw new UnauthenticatedError('invalid or expired access token');
    const session = await this.sessions.live(this.ds.manager, claims.sessionId, now, this.config.FEDPBX_SESSION_IDLE_SEC);
    if (session === undefined || session.userId !== claims.userId) throw new UnauthenticatedError('session ended');
    const user = await this.enabledUser(claims.userId);
    await this.sessions.touch(session, now);
    return {
      userId: user.id,
      username: user.username,
      via: 'password',
      sessionId: session.id,
      grants: user.grants,
      readOnly: false,
      mustChangePassword: user.mustChangePassword,
      scope: Scope.of(user.grants),
    };
  }

  /**
   * The caller changes their own password: the current one is required (and its failures count like failed
   * logins), the new one meets the policy. Their other sessions end; this one stays. Audited, never the password.
   */
  async changePassword(caller: Principal, current: string, next: string, source: string): Promise<void> {
    if (caller.via !== 'password') throw new ForbiddenError('an API token cannot change its user\'s password');
    const now = new Date();
    const wait = await this.throttle.retryAfterSec(caller.username, source, true, now);
    if (wait > 0) throw new RateLimitedError(wait);
    const stored = await this.users.passwordHash(caller.userId);
    if (stored === undefined || !(await verifyPassword(current, stored))) {
      await this.ds.transaction(async (m) => this.recordLockouts(m, await this.throttle.fail(m, caller.username, source, now)));
      throw new InvalidInputError('invalid body', [{ path: 'currentPassword', message: 'not your current password' }]);
    }
    if (current === next) throw new InvalidInputError('invalid body', [{ path: 'newPassword', message: 'must differ from the current password' }]);
    this.checkPolicy(next, caller.username, 'newPassword');
    const hash = await hashPassword(next);
    await this.ds.transaction(async (m) => {
      await this.users.setPassword(m, caller.userId, hash, false, now);
      const ended = await this.sessions.revokeAllOf(m, caller.userId, 'password-changed', now, caller.sessionId);
      await this.audit.append(m, [{ actor: actorName(caller), action: 'user.password-change', objectType: 'user', objectId: caller.userId, siteIds: [], after: { otherSessionsRevoked: ended } }]);
    });
  }

  /** Refuses a password the policy does not accept (password-policy.ts), naming the body property. */
  checkPolicy(password: string, username: string, path: string): void {
    const problems = passwordProblems(password, username, this.config.FEDPBX_PASSWORD_MIN_LENGTH);
    if (problems.length > 0) throw new InvalidInputError('password refused', problems.map((message) => ({ path, message, code: 'password-policy' })));
  }

  /**
   * A new API token of the caller, limited to reading and/or to a subset of the caller's grants, with an expiry.
   * Only a password session mints tokens: an API token cannot make another (so none outlives the one it came from).
   * The token itself is returned this once and only its hash is kept.
   */
  async createApiToken(caller: Principal, spec: NewApiToken): Promise<ApiTokenRecord & { token: string }> {
    if (caller.via !== 'password') throw new ForbiddenError('API tokens cannot create API tokens; sign in with a password');
    const days = spec.expiresInDays ?? Math.min(90, this.config.FEDPBX_API_TOKEN_MAX_DAYS);
    if (days > this.config.FEDPBX_API_TOKEN_MAX_DAYS) {
      throw new InvalidInputError('invalid body', [{ path: 'expiresInDays', message: `at most ${this.config.FEDPBX_API_TOKEN_MAX_DAYS} days (FEDPBX_API_TOKEN_MAX_DAYS)` }]);
    }
    if (spec.grants !== undefined) await this.checkTokenGrants(caller, spec.grants);
    const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + days * 86_400_000);
    const scope: ApiTokenScope = { readOnly: spec.readOnly, ...(spec.grants !== undefined ? { grants: spec.grants } : {}) };
    const record = await this.ds.transaction(async (m) => {
      const r = await this.users.createToken(m, caller.userId, caller.username, spec.name, hashToken(token), expiresAt, scope);
      await this.audit.append(m, [
        {
          actor: actorName(caller),
          action: 'apiToken.create',
          objectType: 'apiToken',
          objectId: r.id,
          siteIds: siteIdsOf(spec.grants ?? caller.grants),
          after: { name: r.name, userId: r.userId, expiresAt: r.expiresAt, readOnly: r.readOnly, grants: r.grants ?? 'all of the user\'s' },
        },
      ]);
      return r;
    });
    return { ...record, token };
  }

  /** The caller's tokens; with `all`, head office sees every user's. */
  listApiTokens(caller: Principal, all: boolean): Promise<ApiTokenRecord[]> {
    if (all && !caller.scope.headOffice) throw new ForbiddenError('only head office lists every user\'s API tokens');
    return this.users.tokens(all ? undefined : caller.userId);
  }

  /** The caller's own token; head office revokes anyone's. Others' tokens do not exist for the rest (404). */
  async revokeApiToken(caller: Principal, id: string): Promise<void> {
    const t = UUID.test(id) ? await this.users.token(id) : undefined;
    if (t === undefined || (t.userId !== caller.userId && !caller.scope.headOffice) || t.state === 'revoked') throw new NotFoundError('apiToken', id);
    const actor = actorName(caller);
    await this.ds.transaction(async (m) => {
      if (!(await this.users.revokeToken(m, id, undefined, actor, new Date()))) throw new NotFoundError('apiToken', id);
      await this.audit.append(m, [
        { actor, action: 'apiToken.revoke', objectType: 'apiToken', objectId: id, siteIds: siteIdsOf(t.grants ?? []), before: { name: t.name, userId: t.userId, username: t.username } },
      ]);
    });
  }

  private async checkTokenGrants(caller: Principal, grants: readonly Grant[]): Promise<void> {
    const sites = caller.scope.headOffice ? new Set((await this.store.read()).federation.sites.map((s) => s.id)) : undefined;
    grants.forEach((g, i) => {
      if ((g.role === 'head-office-admin') !== (g.siteId === null)) {
        throw new InvalidInputError('invalid body', [{ path: `grants.${i}.siteId`, message: 'head-office-admin has no site; every other role names one' }]);
      }
      // Outside the caller's own grants the site's existence is not told: the same answer for every site.
      if (narrowGrants(caller.grants, [g]).length === 0) throw new InvalidInputError('invalid body', [{ path: `grants.${i}`, message: 'not within your own grants' }]);
      if (sites !== undefined && g.siteId !== null && !sites.has(g.siteId)) throw new InvalidInputError('invalid body', [{ path: `grants.${i}.siteId`, message: `no site ${g.siteId}` }]);
    });
  }

  private async enabledUser(userId: string) {
    const user = await this.users.get(userId);
    if (user === undefined || user.disabled) throw new UnauthenticatedError('user unknown or disabled');
    return user;
  }

  private async recordLockouts(m: EntityManager, lockouts: readonly Lockout[]): Promise<void> {
    if (lockouts.length === 0) return;
    await this.audit.append(
      m,
      lockouts.map((l) => ({
        actor: `login from ${l.source}`,
        action: 'auth.lockout',
        objectType: l.kind === 'source' ? 'loginSource' : 'user',
        objectId: l.kind === 'source' ? l.source : l.username,
        siteIds: [],
        after: {
          kind: l.kind,
          username: l.username,
          source: l.source,
          failures: l.failures,
          blockedUntil: l.blockedUntil.toISOString(),
          holdsBack: l.kind === 'account-and-source' ? 'this account from this address' : l.kind === 'source' ? 'this address, except for accounts that signed in from it before' : 'this account from addresses it never signed in from',
        },
      })),
    );
  }
}

const siteIdsOf = (grants: readonly Grant[]): string[] => [...new Set(grants.flatMap((g) => (g.siteId === null ? [] : [g.siteId])))];
