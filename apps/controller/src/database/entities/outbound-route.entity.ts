import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { CallClass } from '@fedpbx/contracts';
import { TrunkEntity } from './trunk.entity.js';

@Entity('outbound_routes')
export class OutboundRouteEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') name!: string;
  @Column('jsonb') patterns!: string[];
  @Column('text') callClass!: Exclude<CallClass, 'internal'>;
  /** Origin sites using the route; empty = every site. */
  @Column('jsonb') sites!: string[];
}

/** One trunk of an outbound route, in order of preference (`position` 0 is tried first). */
@Entity('outbound_route_trunks')
export class OutboundRouteTrunkEntity {
  @PrimaryColumn('text') routeId!: string;
  @ManyToOne(() => OutboundRouteEntity, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'route_id' }) route?: OutboundRouteEntity;
  @PrimaryColumn('integer') position!: number;
  @Column('text') trunkId!: string;
  @ManyToOne(() => TrunkEntity, { onDelete: 'RESTRICT' }) @JoinColumn({ name: 'trunk_id' }) trunk?: TrunkEntity;
  @Column('integer') strip!: number;
  @Column('text') prepend!: string;
}
