import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, MoreThan, Not, type EntityManager } from 'typeorm';
import { RefreshTokenEntity, SessionEntity } from '../database/entities/index.js';

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly source: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly expiresAt: string;
}

const sessionOf = (s: SessionEntity): SessionRecord => ({
  id: s.id,
  userId: s.userId,
  source: s.source,
  createdAt: s.createdAt.toISOString(),
  lastSeenAt: s.lastSeenAt.toISOString(),
  expiresAt: s.expiresAt.toISOString(),
});

/** Touching a session's last-seen time at most this often keeps a busy console from writing on every request. */
export const TOUCH_INTERVAL_MS = 60_000;

/** Sessions and their refresh tokens (stored as SHA-256). */
@Injectable()
export class SessionRepository {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async create(m: EntityManager, userId: string, source: string, now: Date, expiresAt: Date, refreshHash: string): Promise<string> {
    const s = await m.save(SessionEntity, Object.assign(new SessionEntity(), { userId, source, lastSeenAt: now, expiresAt, revokedAt: null, revokedReason: null }));
    await m.insert(RefreshTokenEntity, { tokenHash: refreshHash, sessionId: s.id, rotatedAt: null });
    return s.id;
  }

  /** The session when it is live at `now`: not revoked, before its absolute end, used within the idle lifetime. */
  async live(m: EntityManager, id: string, now: Date, idleSec: number, lock = false): Promise<SessionEntity | undefined> {
    const s = await m.findOne(SessionEntity, { where: { id }, ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}) });
    if (s === null || s.revokedAt !== null || s.expiresAt <= now || s.lastSeenAt.getTime() + idleSec * 1000 <= now.getTime()) return undefined;
    return s;
  }

  /** Records use of the session, at most once a minute (the condition also holds across replicas). */
  async touch(s: SessionEntity, now: Date): Promise<void> {
    if (now.getTime() - s.lastSeenAt.getTime() < TOUCH_INTERVAL_MS) return;
    await this.ds.manager
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ lastSeenAt: now })
      .where('id = :id AND last_seen_at < :before', { id: s.id, before: new Date(now.getTime() - TOUCH_INTERVAL_MS) })
      .execute();
  }

  async refreshToken(m: EntityManager, tokenHash: string): Promise<RefreshTokenEntity | undefined> {
    return (await m.findOne(RefreshTokenEntity, { where: { tokenHash }, lock: { mode: 'pessimistic_write' } })) ?? undefined;
  }

  /** Marks the presented refresh token used and stores its successor. */
  async rotate(m: EntityManager, sessionId: string, oldHash: string, newHash: string, now: Date): Promise<void> {
    await m.update(RefreshTokenEntity, { tokenHash: oldHash }, { rotatedAt: now });
    await m.insert(RefreshTokenEntity, { tokenHash: newHash, sessionId, rotatedAt: null });
    await m.update(SessionEntity, { id: sessionId }, { lastSeenAt: now });
  }

  /** Revokes one session; false when it was not live (unknown, or revoked already). */
  async revoke(m: EntityManager, id: string, reason: string, now: Date): Promise<boolean> {
    const r = await m.update(SessionEntity, { id, revokedAt: IsNull() }, { revokedAt: now, revokedReason: reason });
    return (r.affected ?? 0) > 0;
  }

  /** Revokes every session of a user not yet revoked (except `keep`); the number revoked. */
  async revokeAllOf(m: EntityManager, userId: string, reason: string, now: Date, keep?: string): Promise<number> {
    const r = await m.update(SessionEntity, { userId, revokedAt: IsNull(), ...(keep !== undefined ? { id: Not(keep) } : {}) }, { revokedAt: now, revokedReason: reason });
    return r.affected ?? 0;
  }

  /** A user's sessions that are live at `now`, newest first. */
  async liveOf(userId: string, now: Date, idleSec: number): Promise<SessionRecord[]> {
    const rows = await this.ds.manager.find(SessionEntity, {
      where: { userId, revokedAt: IsNull(), expiresAt: MoreThan(now), lastSeenAt: MoreThan(new Date(now.getTime() - idleSec * 1000)) },
      order: { createdAt: 'DESC' },
    });
    return rows.map(sessionOf);
  }

  /** Sessions that ended more than a day ago, with their refresh tokens: their rows only grow the table. */
  async purgeEnded(m: EntityManager, now: Date, idleSec: number): Promise<void> {
    const dayAgo = new Date(now.getTime() - 86_400_000);
    await m
      .createQueryBuilder()
      .delete()
      .from(SessionEntity)
      .where('revoked_at < :dayAgo OR expires_at < :dayAgo OR last_seen_at < :idleDayAgo', { dayAgo, idleDayAgo: new Date(dayAgo.getTime() - idleSec * 1000) })
      .execute();
  }
}
