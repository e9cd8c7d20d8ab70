import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Codec } from '@fedpbx/contracts';
import { SiteEntity } from './site.entity.js';

@Entity('inter_site_links')
export class LinkEntity {
  @PrimaryColumn('text') id!: string;
  @Index() @Column('text') siteA!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_a' }) a?: SiteEntity;
  @Index() @Column('text') siteB!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_b' }) b?: SiteEntity;
  @Column('text') mode!: 'ip' | 'registration';
  @Column('text', { nullable: true }) registrant!: string | null;
  @Column('text', { nullable: true }) secret!: string | null;
  @Column('jsonb') codecs!: Codec[];
}
