import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, MoreThan, type EntityManager } from 'typeorm';
import type { Grant } from '../access/scope.js';
import { ApiTokenEntity, GrantEntity, UserEntity } from '../database/entities/index.js';

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly disabled: boolean;
  readonly grants: readonly Grant[];
  readonly createdAt: string;
}

export interface ApiTokenRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

const grantOf = (g: GrantEntity): Grant => ({ role: g.role, siteId: g.siteId });
const tokenOf = (t: ApiTokenEntity): ApiTokenRecord => ({
  id: t.id,
  userId: t.userId,
  name: t.name,
  createdAt: t.createdAt.toISOString(),
  ...(t.revokedAt !== null ? { revokedAt: t.revokedAt.toISOString() } : {}),
});

/** Users, their grants and API tokens. */
@Injectable()
export class UserRepository {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async count(m: EntityManager = this.ds.manager): Promise<number> {
    return m.count(UserEntity);
  }

  async credentials(username: string): Promise<{ id: string; passwordHash: string; disabled: boolean } | undefined> {
    const u = await this.ds.manager.findOneBy(UserEntity, { username });
    return u === null ? undefined : { id: u.id, passwordHash: u.passwordHash, disabled: u.disabled };
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const u = await this.ds.manager.findOneBy(UserEntity, { id });
    if (u === null) return undefined;
    const grants = await this.ds.manager.findBy(GrantEntity, { userId: id });
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

  async delete(m: EntityManager, id: string): Promise<void> {
    await m.delete(UserEntity, { id });
  }

  async createToken(userId: string, name: string, tokenHash: string, expiresAt: Date): Promise<ApiTokenRecord> {
    const t = await this.ds.manager.save(ApiTokenEntity, Object.assign(new ApiTokenEntity(), { userId, name, tokenHash, expiresAt, revokedAt: null }));
    return tokenOf(t);
  }

  async tokenByHash(tokenHash: string): Promise<{ id: string; userId: string } | undefined> {
    const t = await this.ds.manager.findOneBy(ApiTokenEntity, { tokenHash, revokedAt: IsNull(), expiresAt: MoreThan(new Date()) });
    return t === null ? undefined : { id: t.id, userId: t.userId };
  }

  async tokens(userId: string): Promise<ApiTokenRecord[]> {
    return (await this.ds.manager.find(ApiTokenEntity, { where: { userId }, order: { createdAt: 'ASC' } })).map(tokenOf);
  }

  /** Revokes a token of this user; false when the user has no such live token. */
  async revokeToken(userId: string, id: string): Promise<boolean> {
    const r = await this.ds.manager.update(ApiTokenEntity, { id, userId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (r.affected ?? 0) > 0;
  }

  private record(u: UserEntity, grants: readonly GrantEntity[]): UserRecord {
    return { id: u.id, username: u.username, disabled: u.disabled, grants: grants.map(grantOf), createdAt: u.createdAt.toISOString() };
  }
}
