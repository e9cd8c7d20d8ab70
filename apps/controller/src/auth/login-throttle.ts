import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, LessThan, type EntityManager } from 'typeorm';
import { CONTROLLER_CONFIG, type ControllerConfig } from '../config.js';
import { LoginKnownSourceEntity, LoginThrottleEntity } from '../database/entities/index.js';

/** The three counters a failed login adds to. */
export type ThrottleKind = 'account-and-source' | 'source' | 'account';

/**
 * Seconds to wait after the `failures`-th failure when `free` failures are allowed: nothing before, then `first`,
 * doubling with every further failure, at most `cap`.
 */
export function backoffSec(failures: number, free: number, cap: number, first = 1): number {
  if (failures < free) return 0;
  return Math.min(cap, first * 2 ** Math.min(failures - free, 30));
}

/** A counter that started holding logins back with this failure (the audit log's lock-out entry). */
export interface Lockout {
  readonly kind: ThrottleKind;
  readonly username: string;
  readonly source: string;
  readonly failures: number;
  readonly blockedUntil: Date;
}

const keyOf = (kind: ThrottleKind, username: string, source: string): string =>
  kind === 'account-and-source' ? `as:${username}|${source}` : kind === 'source' ? `s:${source}` : `a:${username}`;

/**
 * Failed-login throttling in the database, so every controller replica counts the same failures. Nobody can lock
 * a named user out: failures count per account and source (only that pair backs off), per source (a source
 * spraying many accounts backs off, except for accounts that signed in from it before), and per account (only
 * sources the account never signed in from back off). Each counter backs off exponentially (backoffSec) and is
 * forgotten FEDPBX_LOGIN_WINDOW_SEC after its last failure.
 */
@Injectable()
export class LoginThrottle {
  private lastSweep = 0;

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(CONTROLLER_CONFIG) private readonly config: ControllerConfig,
  ) {}

  private free(kind: ThrottleKind): number {
    switch (kind) {
      case 'account-and-source':
        return this.config.FEDPBX_LOGIN_MAX_ATTEMPTS;
      case 'source':
        return this.config.FEDPBX_LOGIN_SOURCE_MAX_ATTEMPTS;
      case 'account':
        return this.config.FEDPBX_LOGIN_ACCOUNT_MAX_ATTEMPTS;
    }
  }

  /** Whether the user signed in from this source before (account-wide and source-wide back-off spare it). */
  async isKnownSource(userId: string, source: string): Promise<boolean> {
    return this.ds.manager.existsBy(LoginKnownSourceEntity, { userId, source });
  }

  /** Seconds the attempt must wait, 0 when it may go ahead. */
  async retryAfterSec(username: string, source: string, knownSource: boolean, now = new Date()): Promise<number> {
    const kinds: ThrottleKind[] = knownSource ? ['account-and-source'] : ['account-and-source', 'source', 'account'];
    const rows = await this.ds.manager.findBy(LoginThrottleEntity, { key: In(kinds.map((k) => keyOf(k, username, source))) });
    let wait = 0;
    for (const r of rows) if (r.blockedUntil !== null && r.blockedUntil > now) wait = Math.max(wait, Math.ceil((r.blockedUntil.getTime() - now.getTime()) / 1000));
    return wait;
  }

  /** Counts a failure on all three counters; returns the counters that started backing off with it. */
  async fail(m: EntityManager, username: string, source: string, now = new Date()): Promise<Lockout[]> {
    const windowStart = new Date(now.getTime() - this.config.FEDPBX_LOGIN_WINDOW_SEC * 1000);
    const lockouts: Lockout[] = [];
    for (const kind of ['account-and-source', 'source', 'account'] as const) {
      const key = keyOf(kind, username, source);
      // One statement per counter: concurrent failures on other replicas are all counted.
      const rows = (await m.query(
        `INSERT INTO "login_throttles" ("key", "failures", "last_failure_at", "blocked_until") VALUES ($1, 1, $2, NULL)
         ON CONFLICT ("key") DO UPDATE SET
           "failures" = CASE WHEN "login_throttles"."last_failure_at" < $3 THEN 1 ELSE "login_throttles"."failures" + 1 END,
           "blocked_until" = CASE WHEN "login_throttles"."last_failure_at" < $3 THEN NULL ELSE "login_throttles"."blocked_until" END,
           "last_failure_at" = $2
         RETURNING "failures"`,
        [key, now, windowStart],
      )) as { failures: number }[];
      const failures = Number(rows[0]?.failures ?? 1);
      const wait = backoffSec(failures, this.free(kind), this.config.FEDPBX_LOGIN_BACKOFF_MAX_SEC, this.config.FEDPBX_LOGIN_BACKOFF_FIRST_SEC);
      if (wait === 0) continue;
      const blockedUntil = new Date(now.getTime() + wait * 1000);
      await m.update(LoginThrottleEntity, { key }, { blockedUntil });
      lockouts.push({ kind, username, source, failures, blockedUntil });
    }
    await this.sweep(m, windowStart, now);
    return lockouts;
  }

  /** A successful login clears its account's counters for this source and account-wide, and remembers the source. */
  async succeed(m: EntityManager, userId: string, username: string, source: string, now = new Date()): Promise<void> {
    await m.delete(LoginThrottleEntity, { key: In([keyOf('account-and-source', username, source), keyOf('account', username, source)]) });
    await m.upsert(LoginKnownSourceEntity, { userId, source, lastSuccessAt: now }, ['userId', 'source']);
  }

  /** Forgets counters whose window passed, at most once a minute per process (the table stays as small as the attacks). */
  private async sweep(m: EntityManager, windowStart: Date, now: Date): Promise<void> {
    if (now.getTime() - this.lastSweep < 60_000) return;
    this.lastSweep = now.getTime();
    await m.delete(LoginThrottleEntity, { lastFailureAt: LessThan(windowStart) });
  }
}
