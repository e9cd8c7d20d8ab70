import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

/**
 * Where one site's configuration stands outside the controller: the revision in its KV bucket (written by the
 * snapshot publisher) and the agent's last report of an applied or refused revision (written by event ingest).
 * Goes with its site (a deleted site has no rollout).
 */
@Entity('site_rollouts')
export class SiteRolloutEntity {
  @PrimaryColumn('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Column('integer', { nullable: true }) publishedRevision!: number | null;
  @Column('text', { nullable: true }) publishedHash!: string | null;
  @Column('timestamptz', { nullable: true }) publishedAt!: Date | null;
  @Column('integer', { nullable: true }) appliedRevision!: number | null;
  @Column('timestamptz', { nullable: true }) appliedAt!: Date | null;
  @Column('integer', { nullable: true }) refusedRevision!: number | null;
  @Column('text', { nullable: true }) refusedReason!: string | null;
  @Column('timestamptz', { nullable: true }) refusedAt!: Date | null;
  /** The agent's last report on the Asterisk include files: of which revision, when, and the failure (null: written). */
  @Column('integer', { nullable: true }) configRevision!: number | null;
  @Column('timestamptz', { nullable: true }) configAt!: Date | null;
  @Column('jsonb', { nullable: true }) configFailure!: { kind: string; code: string; object: string; field: string; reason: string } | null;
}
