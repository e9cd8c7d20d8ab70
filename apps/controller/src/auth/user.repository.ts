import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, MoreThan, type EntityManager } from 'typeorm';
import type { Grant } from '../access/scope.js';
import { ApiTokenEntity, GrantEntity, UserEntity } from '../database/entities/index.js';

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly disabled: boolean;
  /** Head office reset the password; the user must set a new one at next sign-in. */
  readonly mustChangePassword: boolean;
  readonly passwordChangedAt?: string;
  readonly grants: readonly Grant[];
  readonly createdAt: string;
}

export interface ApiTokenScope {
  /** Only reading routes answer the token. */
  readonly readOnly: boolean;
  /** The subset of its user's grants the token acts with; absent: all of them. */
  readonly grants?: readonly Grant[];
}

export interface ApiTokenRecord extends ApiTokenScope {
  readonly id: string;
  readonly userId: string;
  readonly username: string;
  readonly name: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** Within a minute: the time is written at most once a minute per token. */
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
  readonly state: 'active' | 'expired' | 'revoked';
}

/** What the auth guard needs of a live token. */
export interface LiveApiToken extends ApiTokenScope {
  readonly id: string;
  readonly userId: string;
  readonly lastUsedAt: Date | null;
}

/** Writing a token's last-used time at most this often keeps a busy integration from writing on every request. */
const LAST_USED_INTERVAL_MS = 60_000;

/** Key of the advisory lock taken by {@link UserRepository.lockHeadOfficeAdmins} ("fedH" in ASCII). */
const HEAD_OFFICE_ADMINS_LOCK = 0x66656448;

const grantOf = (g: GrantEntity): Grant => ({ role: g.role, siteId: g.siteId });
const tokenOf = (t: ApiTokenEntity, username: string, now = new Date()): ApiTokenRecord => ({
  id: t.id,
  userId: t.userId,
  username,
  name: t.name,
  createdAt: t.createdAt.toISOString(),
  expiresAt: t.expiresAt.toISOString(),
  readOnly: t.readOnly,
  ...(t.grants !== null ? { grants: t.grants } : {}),
  ...(t.lastUsedAt !== null ? { lastUsedAt: t.lastUsedAt.toISOString() } : {}),
  ...(t.revokedAt !== null ? { revokedAt: t.revokedAt.toISOString() } : {}),
  ...(t.revokedBy !== null ? { revokedBy: t.revokedBy } : {}),
  state: t.revokedAt !== null ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active',
});

/** Users, their grants and API tokens. */
@Injectable()
export class UserRepository {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async count(m: EntityManager = this.ds.manager): Promise<number> {
    return m.count(UserEntity);
  }

  async credentials(username: string): Promise<{ id: string; passwordHash: string; disabled: boolean; mustChangePassword: boolean } | undefined> {
    const u = await this.ds.manager.findOneBy(UserEntity, { username });
    return u === null ? undefined : { id: u.id, passwordHash: u.passwordHash, disabled: u.disabled, mustChangePassword: u.mustChangePassword };
  }

  async passwordHash(id: string): Promise<string | undefined> {
    return (await this.ds.manager.findOneBy(UserEntity, { id }))?.passwordHash;
  }

  /** A new password; `mustChange` when head office set it (the user sets their own at next sign-in). */
  async setPassword(m: EntityManager, id: string, passwordHash: string, mustChange: boolean, now: Date): Promise<void> {
    await m.update(UserEntity, { id }, { passwordHash, mustChangePassword: mustChange, passwordChangedAt: now });
  }

  /** `m`: the caller's transaction, when it holds one (the embedded database has a single connection). */
  async get(id: string, m: EntityManager = this.ds.manager): Promise<UserRecord | undefined> {
    const u = await m.findOneBy(UserEntity, { id });
    if (u === null) return undefined;
    const grants = await m.findBy(GrantEntity, { userId: id });
    return this.record(u, grants);
  }

  async list(): Promise<UserRecord[]> {
    const [users, grants] = await Promise.all([this.ds.manager.find(UserEntity, { order: { username: 'ASC' } }), this.ds.manager.find(GrantEntity)]);
    return users.map((u) => this.record(u, grants.filter((g) => g.userId === u.id)));
  }

  async create(m: EntityManager, username: string, passwordHash: string, grants: readonly Grant[]): Promise<string> {
    const u = await m.save(UserEntity, Object.assign(new UserEntity(), { username, passwordHash, disabled: false }));
    await this.replaceGrants(m, u.id, grants);
    return u.id;
  }

  async exists(username: string): Promise<boolean> {
    return this.ds.manager.existsBy(UserEntity, { username });
  }

  async replaceGrants(m: EntityManager, userId: string, grants: readonly Grant[]): Promise<void> {
    await m.delete(GrantEntity, { userId });
    if (grants.length > 0) await m.insert(GrantEntity, grants.map((g) => ({ userId, role: g.role, siteId: g.siteId })));
  }

  /**
   * Serializes every write that can take away a head-office admin (grant changes, deletion, disabling, the
   * reset-admin command) until the end of the transaction, so two concurrent ones cannot each leave the other's
   * admin as the last and both succeed. (The embedded database runs one transaction at a time anyway.)
   */
  async lockHeadOfficeAdmins(m: EntityManager): Promise<void> {
    await m.query('SELECT pg_advisory_xact_lock($1)', [HEAD_OFFICE_ADMINS_LOCK]);
  }

  /** Ids of the users that are enabled and hold a head-office-admin grant. */
  async activeHeadOfficeAdmins(m: EntityManager): Promise<string[]> {
    const rows = await m
      .getRepository(UserEntity)
      .createQueryBuilder('u')
      .innerJoin(GrantEntity, 'g', 'g.user_id = u.id')
      .where('g.role = :role', { role: 'head-office-admin' })
      .andWhere('u.disabled = false')
      .select('u.id', 'id')
      .getRawMany<{ id: string }>();
    return [...new Set(rows.map((r) => r.id))];
  }

  async setDisabled(m: EntityManager, id: string, disabled: boolean): Promise<void> {
    await m.update(UserEntity, { id }, { disabled });
  }

  async delete(m: EntityManager, id: string): Promise<void> {
    await m.delete(UserEntity, { id });
  }

  async createToken(m: EntityManager, userId: string, username: string, name: string, tokenHash: string, expiresAt: Date, scope: ApiTokenScope): Promise<ApiTokenRecord> {
    const t = await m.save(
      ApiTokenEntity,
      Object.assign(new ApiTokenEntity(), { userId, name, tokenHash, expiresAt, readOnly: scope.readOnly, grants: scope.grants === undefined ? null : [...scope.grants], lastUsedAt: null, revokedAt: null, revokedBy: null }),
    );
    return tokenOf(t, username);
  }

  /** A token that is neither revoked nor expired. */
  async tokenByHash(tokenHash: string, now: Date): Promise<LiveApiToken | undefined> {
    const t = await this.ds.manager.findOneBy(ApiTokenEntity, { tokenHash, revokedAt: IsNull(), expiresAt: MoreThan(now) });
    return t === null ? undefined : { id: t.id, userId: t.userId, readOnly: t.readOnly, ...(t.grants !== null ? { grants: t.grants } : {}), lastUsedAt: t.lastUsedAt };
  }

  /** Records use of a token, at most once a minute (the condition also holds across replicas). */
  async touchToken(t: LiveApiToken, now: Date): Promise<void> {
    if (t.lastUsedAt !== null && now.getTime() - t.lastUsedAt.getTime() < LAST_USED_INTERVAL_MS) return;
    await this.ds.manager
      .createQueryBuilder()
      .update(ApiTokenEntity)
      .set({ lastUsedAt: now })
      .where('id = :id AND (last_used_at IS NULL OR last_used_at < :before)', { id: t.id, before: new Date(now.getTime() - LAST_USED_INTERVAL_MS) })
      .execute();
  }

  /** A user's tokens, or everyone's (`userId` undefined), newest first. */
  async tokens(userId: string | undefined): Promise<ApiTokenRecord[]> {
    const rows = await this.ds.manager.find(ApiTokenEntity, { where: userId === undefined ? {} : { userId }, order: { createdAt: 'DESC' }, relations: { user: true } });
    const now = new Date();
    return rows.map((t) => tokenOf(t, t.user?.username ?? '?', now));
  }

  async token(id: string): Promise<ApiTokenRecord | undefined> {
    const t = await this.ds.manager.findOne(ApiTokenEntity, { where: { id }, relations: { user: true } });
    return t === null ? undefined : tokenOf(t, t.user?.username ?? '?');
  }

  /** Revokes a token (of `userId` when given); false when there is no such live token. */
  async revokeToken(m: EntityManager, id: string, userId: string | undefined, actor: string, now: Date): Promise<boolean> {
    const r = await m.update(ApiTokenEntity, { id, ...(userId !== undefined ? { userId } : {}), revokedAt: IsNull() }, { revokedAt: now, revokedBy: actor });
    return (r.affected ?? 0) > 0;
  }

  /** Revokes every live token of a user; the number revoked. */
  async revokeTokensOf(m: EntityManager, userId: string, actor: string, now: Date): Promise<number> {
    const r = await m.update(ApiTokenEntity, { userId, revokedAt: IsNull() }, { revokedAt: now, revokedBy: actor });
    return r.affected ?? 0;
  }

  private record(u: UserEntity, grants: readonly GrantEntity[]): UserRecord {
    return {
      id: u.id,
      username: u.username,
      disabled: u.disabled,
      mustChangePassword: u.mustChangePassword,
      ...(u.passwordChangedAt !== null ? { passwordChangedAt: u.passwordChangedAt.toISOString() } : {}),
      grants: grants.map(grantOf),
      createdAt: u.createdAt.toISOString(),
    };
  }
}
