import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Codec } from '@fedpbx/contracts';
import { SiteEntity } from './site.entity.js';

@Entity('trunks')
export class TrunkEntity {
  @PrimaryColumn('text') id!: string;
  @Index() @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Column('text') name!: string;
  @Column('text') host!: string;
  @Column('integer') port!: number;
  @Column('text') transport!: 'udp' | 'tcp' | 'tls';
  @Column('boolean') register!: boolean;
  @Column('text', { nullable: true }) username!: string | null;
  /** Needed in clear text for the site's snapshot; never in an API response. */
  @Column('text', { nullable: true }) secret!: string | null;
  @Column('text', { nullable: true }) fromDomain!: string | null;
  @Column('text', { nullable: true }) fromUser!: string | null;
  @Column('jsonb') codecs!: Codec[];
  @Column('text', { nullable: true }) callerIdNumber!: string | null;
  @Column('boolean') emergency!: boolean;
  @Column('integer', { nullable: true }) maxChannels!: number | null;
}
