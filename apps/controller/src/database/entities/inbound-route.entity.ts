import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Destination } from '@fedpbx/contracts';
import { SiteEntity } from './site.entity.js';

@Entity('inbound_routes')
export class InboundRouteEntity {
  @PrimaryColumn('text') id!: string;
  @Index() @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Column('text') did!: string;
  @Column('text', { nullable: true }) trunkId!: string | null;
  @Column('jsonb') destination!: Destination;
}
