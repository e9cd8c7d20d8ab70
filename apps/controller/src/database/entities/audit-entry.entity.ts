import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who changed what, when, with before/after (secrets masked before they get here). */
@Entity('audit_log')
export class AuditEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Index() @CreateDateColumn({ type: 'timestamptz' }) at!: Date;
  @Column('text') actor!: string;
  @Column('text') action!: string;
  @Column('text') objectType!: string;
  @Column('text') objectId!: string;
  /** Sites the object belongs to (empty for federation-wide objects): what scoped readers filter on. */
  @Column('jsonb') siteIds!: string[];
  @Column('jsonb', { nullable: true }) before!: object | null;
  @Column('jsonb', { nullable: true }) after!: object | null;
}
