import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Grant } from '../access/scope.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { AlreadyExistsError, ForbiddenError, InvalidInputError, InvariantViolatedError, NotFoundError } from '../errors.js';
import { FederationStore } from '../federation/federation-store.js';
import { hashPassword } from './password-hasher.js';
import { passwordProblems } from './password-policy.js';
import { actorName, type Principal } from './principal.js';
import { SessionRepository, type SessionRecord } from './session.repository.js';
import { UserRepository, type UserRecord } from './user.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Users and grants: head office only. Every change is audited (password never). No change may leave the
 * federation without an active head-office admin (the bootstrap admin is only made on an empty users table, so
 * nobody could manage users again short of `fedpbx-controller reset-admin` on the controller host).
 */
@Injectable()
export class UsersService {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly users: UserRepository,
    private readonly audit: AuditRepository,
    private readonly store: FederationStore,
    private readonly sessions: SessionRepository,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {}

  list(caller: Principal): Promise<UserRecord[]> {
    this.headOffice(caller);
    return this.users.list();
  }

  async get(caller: Principal, id: string): Promise<UserRecord> {
    this.headOffice(caller);
    const u = UUID.test(id) ? await this.users.get(id) : undefined;
    if (u === undefined) throw new NotFoundError('user', id);
    return u;
  }

  async create(caller: Principal, username: string, password: string, grants: readonly Grant[]): Promise<UserRecord> {
    this.headOffice(caller);
    await this.checkGrants(grants);
    this.checkPassword(password, username, 'password');
    if (await this.users.exists(username)) throw new AlreadyExistsError('user', username);
    const hash = await hashPassword(password);
    const id = await this.ds.transaction(async (m) => {
      const id = await this.users.create(m, username, hash, grants);
      await this.audit.append(m, [{ actor: actorName(caller), action: 'user.create', objectType: 'user', objectId: id, siteIds: siteIdsOf(grants), after: { username, grants } }]);
      return id;
    });
    return this.get(caller, id);
  }

  async replaceGrants(caller: Principal, id: string, grants: readonly Grant[]): Promise<UserRecord> {
    const before = await this.get(caller, id);
    await this.checkGrants(grants);
    await this.ds.transaction(async (m) => {
      await this.users.lockHeadOfficeAdmins(m);
      await this.users.replaceGrants(m, id, grants);
      await this.keepsHeadOfficeAdmin(m, 'remove the last head-office-admin grant');
      await this.audit.append(m, [
        { actor: actorName(caller), action: 'user.grants', objectType: 'user', objectId: id, siteIds: siteIdsOf([...before.grants, ...grants]), before: { grants: before.grants }, after: { grants } },
      ]);
    });
    return this.get(caller, id);
  }

  async remove(caller: Principal, id: string): Promise<void> {
    const before = await this.get(caller, id);
    if (id === caller.userId) throw new ForbiddenError('you cannot delete yourself');
    await this.ds.transaction(async (m) => {
      await this.users.lockHeadOfficeAdmins(m);
      await this.users.delete(m, id);
      await this.keepsHeadOfficeAdmin(m, 'delete the last head-office admin');
      await this.audit.append(m, [{ actor: actorName(caller), action: 'user.delete', objectType: 'user', objectId: id, siteIds: siteIdsOf(before.grants), before: { username: before.username, grants: before.grants } }]);
    });
  }

  /**
   * Head office sets another user's password: the user must choose their own at next sign-in, and every session
   * they have ends now. Audited (never the password).
   */
  async resetPassword(caller: Principal, id: string, password: string): Promise<UserRecord> {
    const before = await this.get(caller, id);
    this.checkPassword(password, before.username, 'newPassword');
    const hash = await hashPassword(password);
    const now = new Date();
    await this.ds.transaction(async (m) => {
      await this.users.setPassword(m, id, hash, true, now);
      const ended = await this.sessions.revokeAllOf(m, id, `password reset by ${actorName(caller)}`, now);
      await this.audit.append(m, [
        { actor: actorName(caller), action: 'user.password-reset', objectType: 'user', objectId: id, siteIds: siteIdsOf(before.grants), after: { username: before.username, mustChangePassword: true, sessionsRevoked: ended } },
      ]);
    });
    return this.get(caller, id);
  }

  /**
   * Disables (or enables again) a user: a disabled user cannot log in, and their sessions and API tokens are
   * revoked - enabling the user again (say, after a lost laptop) brings none of them back.
   */
  async setDisabled(caller: Principal, id: string, disabled: boolean): Promise<UserRecord> {
    const before = await this.get(caller, id);
    if (disabled && id === caller.userId) throw new ForbiddenError('you cannot disable yourself');
    if (before.disabled === disabled) return before;
    await this.ds.transaction(async (m) => {
      await this.users.lockHeadOfficeAdmins(m);
      await this.users.setDisabled(m, id, disabled);
      if (disabled) await this.keepsHeadOfficeAdmin(m, 'disable the last head-office admin');
      // What the user holds ends now, not just while disabled (the guard refuses it meanwhile anyway): it shows in
      // their session and token lists, and an enable does not revive a token copied off a lost machine.
      const ended = disabled
        ? {
            sessionsRevoked: await this.sessions.revokeAllOf(m, id, `disabled by ${actorName(caller)}`, new Date()),
            tokensRevoked: await this.users.revokeTokensOf(m, id, actorName(caller), new Date()),
          }
        : {};
      await this.audit.append(m, [
        { actor: actorName(caller), action: disabled ? 'user.disable' : 'user.enable', objectType: 'user', objectId: id, siteIds: siteIdsOf(before.grants), before: { disabled: before.disabled }, after: { disabled, ...ended } },
      ]);
    });
    return this.get(caller, id);
  }

  /** Head office: the user's live sessions (where and when they signed in, last use, absolute end). */
  async sessionsOf(caller: Principal, id: string): Promise<SessionRecord[]> {
    await this.get(caller, id);
    return this.sessions.liveOf(id, new Date(), this.config.FEDPBX_SESSION_IDLE_SEC);
  }

  /** Head office ends every session of the user (their API tokens are revoked one by one). Audited. */
  async revokeSessions(caller: Principal, id: string): Promise<{ revoked: number }> {
    const before = await this.get(caller, id);
    const revoked = await this.ds.transaction(async (m) => {
      const n = await this.sessions.revokeAllOf(m, id, `revoked by ${actorName(caller)}`, new Date());
      await this.audit.append(m, [{ actor: actorName(caller), action: 'user.sessions-revoke', objectType: 'user', objectId: id, siteIds: siteIdsOf(before.grants), after: { username: before.username, sessionsRevoked: n } }]);
      return n;
    });
    return { revoked };
  }

  private checkPassword(password: string, username: string, path: string): void {
    const problems = passwordProblems(password, username, this.config.FEDPBX_PASSWORD_MIN_LENGTH);
    if (problems.length > 0) throw new InvalidInputError('password refused', problems.map((message) => ({ path, message, code: 'password-policy' })));
  }

  /** Inside a write's transaction, after its change: refuses (and so rolls back) a change that left no active head-office admin. */
  private async keepsHeadOfficeAdmin(m: EntityManager, what: string): Promise<void> {
    if ((await this.users.activeHeadOfficeAdmins(m)).length > 0) return;
    throw new InvariantViolatedError(
      'last-head-office-admin',
      `the federation must keep at least one active head-office admin: cannot ${what} (grant head-office-admin to another user first)`,
    );
  }

  private headOffice(caller: Principal): void {
    if (!caller.scope.headOffice) throw new ForbiddenError('only head office manages users');
  }

  private async checkGrants(grants: readonly Grant[]): Promise<void> {
    const sites = new Set((await this.store.read()).federation.sites.map((s) => s.id));
    grants.forEach((g, i) => {
      if ((g.role === 'head-office-admin') !== (g.siteId === null)) {
        throw new InvalidInputError('invalid grants', [{ path: `grants.${i}.siteId`, message: 'head-office-admin has no site; every other role names one' }]);
      }
      if (g.siteId !== null && !sites.has(g.siteId)) throw new InvalidInputError('invalid grants', [{ path: `grants.${i}.siteId`, message: `no site ${g.siteId}` }]);
    });
  }
}

const siteIdsOf = (grants: readonly Grant[]): string[] => [...new Set(grants.flatMap((g) => (g.siteId === null ? [] : [g.siteId])))];
