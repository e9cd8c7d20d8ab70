import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

@Entity('users')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index({ unique: true }) @Column('text') username!: string;
  /** `scrypt$N$r$p$salt$hash` (base64). */
  @Column('text') passwordHash!: string;
  @Column('boolean', { default: false }) disabled!: boolean;
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

/** An integration's token: acts with its user's grants. Only the SHA-256 of the token is kept. */
@Entity('api_tokens')
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index() @Column('uuid') userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: UserEntity;
  @Column('text') name!: string;
  @Index({ unique: true }) @Column('text') tokenHash!: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { nullable: true }) revokedAt!: Date | null;
}
