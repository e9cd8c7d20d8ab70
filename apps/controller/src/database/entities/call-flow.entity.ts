import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { FlowNode } from '@fedpbx/contracts';
import { SiteEntity } from './site.entity.js';

@Entity('call_flows')
export class CallFlowEntity {
  @PrimaryColumn('text') id!: string;
  @Index() @Column('text') siteId!: string;
  @ManyToOne(() => SiteEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'site_id' }) site?: SiteEntity;
  @Column('text') name!: string;
  @Column('text', { nullable: true }) number!: string | null;
  @Column('text') entry!: string;
  /** The graph: nodes with their outgoing edges, validated by libs/dialplan (where they are drawn: call_flow_layouts). */
  @Column('jsonb') nodes!: FlowNode[];
}
