import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { LayoutPosition } from '@fedpbx/contracts';
import { CallFlowEntity } from './call-flow.entity.js';

/**
 * Where the console draws a call flow's nodes: console metadata beside the flow, outside the federation (no
 * snapshot, no revision, no rollout). Goes with its flow.
 */
@Entity('call_flow_layouts')
export class CallFlowLayoutEntity {
  @PrimaryColumn('text') flowId!: string;
  @OneToOne(() => CallFlowEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'flow_id' }) flow?: CallFlowEntity;
  /** Position by node id; nodes left out are placed by the console's automatic layout. */
  @Column('jsonb') nodes!: Record<string, LayoutPosition>;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt!: Date;
  /**
   * The positions came out of the flow when layouts left the snapshot: the site's agents still hold a snapshot with
   * them, so the controller writes the site a revision without them once, at start (CallFlowLayoutUpgrade).
   */
  @Column('boolean', { default: false }) movedFromSnapshot!: boolean;
}
