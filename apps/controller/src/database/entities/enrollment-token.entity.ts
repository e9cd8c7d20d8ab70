import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

/** A one-time token an agent exchanges for its site's NATS credentials. Only the SHA-256 of the token is kept. */
@Entity('enrollment_tokens')
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
}
