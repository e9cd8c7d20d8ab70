import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The one row every federation write locks (`SELECT ... FOR UPDATE`): it serializes writers across controller
 * processes and its `version` tells a process whether its in-memory copy of the federation is current.
 */
@Entity('federation_state')
export class FederationStateEntity {
  @PrimaryColumn('integer') id!: number;
  @Column('bigint') version!: string;
  @Column('text', { nullable: true }) hubSiteId!: string | null;
}
