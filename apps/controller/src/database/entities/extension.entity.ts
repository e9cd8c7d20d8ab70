import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

@Entity('extensions')
@Index(['siteId', 'number'], { unique: true })
export class ExtensionEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Column('text') number!: string;
  @Column('text') displayName!: string;
  @Column('text', { nullable: true }) classOfServiceId!: string | null;
  @Column('text', { nullable: true }) endpoint!: string | null;
  /** Needed in clear text: it goes into the site's signed snapshot (pjsip auth). Never in an API response. */
  @Column('text', { nullable: true }) sipSecret!: string | null;
  @Column('boolean') voicemail!: boolean;
  /** The mailbox PIN: in clear text for the same reason as sipSecret (voicemail_fedpbx.conf). Never in an API response. */
  @Column('text', { nullable: true }) voicemailPin!: string | null;
  @Column('text', { nullable: true }) email!: string | null;
  @Column('integer') ringTimeoutSec!: number;
}
