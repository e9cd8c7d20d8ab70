import { Injectable } from '@nestjs/common';
import { IsNull, LessThanOrEqual, MoreThan, Not, type EntityManager } from 'typeorm';
import { AgentCredentialEntity } from '../database/entities/index.js';

export type AgentCredentialRecord = Pick<AgentCredentialEntity, 'userKey' | 'siteId' | 'origin' | 'issuedAt' | 'expiresAt' | 'revokedAt' | 'revokedBy'>;

/** How long a revoked key stays in the account JWT after its JWT expired (clock skew between hosts). */
const EXPIRED_MARGIN_MS = 5 * 60_000;

@Injectable()
export class AgentCredentialRepository {
  async insert(m: EntityManager, row: Omit<AgentCredentialRecord, 'revokedAt' | 'revokedBy'>): Promise<void> {
    await m.insert(AgentCredentialEntity, { ...row, revokedAt: null, revokedBy: null });
  }

  async byKey(m: EntityManager, userKey: string): Promise<AgentCredentialRecord | undefined> {
    return (await m.findOne(AgentCredentialEntity, { where: { userKey } })) ?? undefined;
  }

  /**
   * The site's credentials, newest first. `issuedAt` is the JWT's `iat` (whole seconds), so an enrollment and the
   * agent's first renewal can share it: in that second the renewal is the newer one (an enrollment after it would
   * have revoked it), hence `origin` descending before the key.
   */
  async listBySite(m: EntityManager, siteId: string, limit: number): Promise<AgentCredentialRecord[]> {
    return m.find(AgentCredentialEntity, { where: { siteId }, order: { issuedAt: 'DESC', origin: 'DESC', userKey: 'ASC' }, take: limit });
  }

  /** Credentials of the site that are still valid (issued before `at`, not revoked, not expired): what revoking it ends. */
  async liveOfSite(m: EntityManager, siteId: string, at: Date): Promise<AgentCredentialRecord[]> {
    return m.find(AgentCredentialEntity, { where: { siteId, revokedAt: IsNull(), issuedAt: LessThanOrEqual(at), expiresAt: MoreThan(at) }, order: { issuedAt: 'ASC' } });
  }

  /** Marks every not-yet-revoked credential of the site issued up to `at` revoked; the keys it revoked. */
  async revokeSite(m: EntityManager, siteId: string, at: Date, actor: string): Promise<string[]> {
    const rows = await m.find(AgentCredentialEntity, { where: { siteId, revokedAt: IsNull(), issuedAt: LessThanOrEqual(at) } });
    if (rows.length === 0) return [];
    await m.update(AgentCredentialEntity, rows.map((r) => r.userKey), { revokedAt: at, revokedBy: actor });
    return rows.map((r) => r.userKey);
  }

  /**
   * The account JWT's revocations: every revoked key whose JWT has not expired (an expired JWT is refused anyway,
   * so the list stays as small as the keys that could still connect).
   */
  async revocations(m: EntityManager, now: Date): Promise<Record<string, number>> {
    const rows = await m.find(AgentCredentialEntity, { where: { revokedAt: Not(IsNull()), expiresAt: MoreThan(new Date(now.getTime() - EXPIRED_MARGIN_MS)) } });
    const out: Record<string, number> = {};
    // nats-server refuses a JWT whose iat is at or before the time given (server/accounts.go isRevoked).
    for (const r of rows) if (r.revokedAt !== null) out[r.userKey] = Math.max(Math.floor(r.revokedAt.getTime() / 1000), Math.floor(r.issuedAt.getTime() / 1000));
    return out;
  }
}
