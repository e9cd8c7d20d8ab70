import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

/**
 * A one-time token an agent exchanges for its site's NATS credentials. Only the SHA-256 of the token is kept. A
 * token ends used (by its agent) or revoked (by head office), never both; revoked_at and revoked_by go together.
 */
@Entity('enrollment_tokens')
@Check('CHK_enrollment_tokens_used_or_revoked', '"used_at" IS NULL OR "revoked_at" IS NULL')
@Check('CHK_enrollment_tokens_revoked_by', '("revoked_at" IS NULL) = ("revoked_by" IS NULL)')
export class EnrollmentTokenEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Index() @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Index({ unique: true }) @Column('text') tokenHash!: string;
  /** Who issued it (audit actor name). */
  @Column('text') createdBy!: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz') expiresAt!: Date;
  @Column('timestamptz', { nullable: true }) usedAt!: Date | null;
  /** When head office revoked it (it can no longer be exchanged), and who (audit actor name). */
  @Column('timestamptz', { nullable: true }) revokedAt!: Date | null;
  @Column('text', { nullable: true }) revokedBy!: string | null;
}
