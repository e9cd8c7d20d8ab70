import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

@Entity('users')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index({ unique: true }) @Column('text') username!: string;
  /** `scrypt$N$r$p$salt$hash` (base64). */
  @Column('text') passwordHash!: string;
  @Column('boolean', { default: false }) disabled!: boolean;
  /** Set by a head-office password reset (or the reset-admin CLI): the user may only change their password until they do. */
  @Column('boolean', { default: false }) mustChangePassword!: boolean;
  @Column('timestamptz', { nullable: true }) passwordChangedAt!: Date | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
}

/** A role at a site; `head-office-admin` has no site (all of them). */
@Entity('grants')
@Index(['userId', 'role', 'siteId'], { unique: true })
export class GrantEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index() @Column('uuid') userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: UserEntity;
  @Column('text') role!: 'head-office-admin' | 'site-admin' | 'viewer';
  @Column('text', { nullable: true }) siteId!: string | null;
  @ManyToOne(() => SiteEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
}

/**
 * An integration's token: acts with its user's current grants, narrowed to `grants` when set and to reading when
 * `readOnly`. Only the SHA-256 of the token is kept.
 */
@Entity('api_tokens')
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index() @Column('uuid') userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: UserEntity;
  @Column('text') name!: string;
  @Index({ unique: true }) @Column('text') tokenHash!: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz') expiresAt!: Date;
  @Column('boolean', { default: false }) readOnly!: boolean;
  /** A subset of the user's grants the token is limited to; null: all of the user's grants. */
  @Column('jsonb', { nullable: true }) grants!: { role: 'head-office-admin' | 'site-admin' | 'viewer'; siteId: string | null }[] | null;
  /** Updated at most once a minute per token. */
  @Column('timestamptz', { nullable: true }) lastUsedAt!: Date | null;
  @Column('timestamptz', { nullable: true }) revokedAt!: Date | null;
  /** Who revoked it (audit actor name). */
  @Column('text', { nullable: true }) revokedBy!: string | null;
}

/**
 * A signed-in console (or API) session: access tokens name it, logout and head office revoke it. It ends when
 * revoked, at expiresAt (absolute lifetime) or after the idle lifetime without use (lastSeenAt, updated at most
 * once a minute).
 */
@Entity('sessions')
export class SessionEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index() @Column('uuid') userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: UserEntity;
  /** The client address it was opened from. */
  @Column('text') source!: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz') lastSeenAt!: Date;
  @Column('timestamptz') expiresAt!: Date;
  @Column('timestamptz', { nullable: true }) revokedAt!: Date | null;
  /** logout, revoked by <actor>, refresh-token-reuse, password-changed, password-reset */
  @Column('text', { nullable: true }) revokedReason!: string | null;
}

/**
 * Every refresh token a session was given (SHA-256). Refreshing marks the token rotated and gives a new one; a
 * rotated token presented again means it was copied, and the whole session (the token family) is revoked.
 */
@Entity('refresh_tokens')
export class RefreshTokenEntity {
  @PrimaryColumn('text') tokenHash!: string;
  @Index() @Column('uuid') sessionId!: string;
  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'session_id' }) session?: SessionEntity;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { nullable: true }) rotatedAt!: Date | null;
}

/**
 * Failed-login counters shared by every controller replica, one per key: `as:<user>|<source>` (account and
 * source), `s:<source>` (source, any account) and `a:<user>` (account, any source).
 */
@Entity('login_throttles')
export class LoginThrottleEntity {
  @PrimaryColumn('text') key!: string;
  @Column('integer') failures!: number;
  @Index() @Column('timestamptz') lastFailureAt!: Date;
  @Column('timestamptz', { nullable: true }) blockedUntil!: Date | null;
}

/** Sources a user signed in from successfully: an account-wide lock-out does not apply to them. */
@Entity('login_known_sources')
export class LoginKnownSourceEntity {
  @PrimaryColumn('uuid') userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: UserEntity;
  @PrimaryColumn('text') source!: string;
  @Column('timestamptz') lastSuccessAt!: Date;
}
