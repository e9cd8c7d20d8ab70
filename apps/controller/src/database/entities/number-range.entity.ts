import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { SiteEntity } from './site.entity.js';

@Entity('number_ranges')
export class NumberRangeEntity {
  @PrimaryColumn('text') id!: string;
  @Index() @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  /** `from`/`to` are SQL keywords: stored as from_number/to_number. */
  @Column('text') fromNumber!: string;
  @Column('text') toNumber!: string;
  @Column('text', { nullable: true }) pstnPrefix!: string | null;
  @Column('text', { nullable: true }) description!: string | null;
}
