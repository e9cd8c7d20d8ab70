import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { PresenceSettings, RecordingPolicy, RestrictableCallClass, SiteNetwork } from '@fedpbx/contracts';

@Entity('sites')
export class SiteEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') name!: string;
  @Column('text', { nullable: true }) prefix!: string | null;
  @Column('boolean', { default: false }) prefixRequired!: boolean;
  @Column('text') timezone!: string;
  @Column('text', { nullable: true }) defaultClassOfServiceId!: string | null;
  @Column('jsonb') classOfServiceCeiling!: RestrictableCallClass[];
  @Column('jsonb') emergencyNumbers!: string[];
  @Column('text', { nullable: true }) mainNumber!: string | null;
  @Column('jsonb') network!: SiteNetwork;
  @Column('jsonb') recording!: RecordingPolicy;
  @Column('integer') ringTimeoutSec!: number;
  /** Busy lamps; NULL = share every extension, show no remote lamp. */
  @Column('jsonb', { nullable: true }) presence!: PresenceSettings | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt!: Date;
}
