import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * One revision of a site's configuration: written whenever the content hash of the site's snapshot changes.
 * Keeps the hash of the whole snapshot and the objects the site owns (what a rollback restores).
 */
@Entity('site_config_revisions')
export class SiteRevisionEntity {
  @PrimaryColumn('text') siteId!: string;
  @PrimaryColumn('integer') revision!: number;
  @Column('text') contentHash!: string;
  /**
   * A SiteOwnedConfig (federation/site-owned-config.ts), typed by the repository that maps it; null when it is the
   * same as the site's previous revision's (most revisions: a plan change gives every site one).
   */
  @Column('jsonb', { nullable: true }) owned!: object | null;
  @Column('text') reason!: string;
  @Column('text') actor!: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
}
