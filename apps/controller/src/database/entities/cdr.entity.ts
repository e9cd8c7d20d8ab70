import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One call record from a site's agent. The key is the site's own CDR id, so a redelivered or re-published
 * event is stored once (the ingest inserts with ON CONFLICT DO NOTHING). No foreign key to `sites`: call
 * records outlive the site they came from.
 */
@Entity('cdrs')
@Index('idx_cdrs_newest', ['startAt', 'siteId', 'cdrId'])
@Index('idx_cdrs_site_newest', ['siteId', 'startAt'])
@Index('idx_cdrs_call', ['callId', 'startAt'])
export class CdrEntity {
  @PrimaryColumn('text') siteId!: string;
  @PrimaryColumn('text') cdrId!: string;
  /** The envelope id (JetStream Nats-Msg-Id) it arrived with. */
  @Column('text') eventId!: string;
  @Column('text') uniqueId!: string;
  @Column('text') linkedId!: string;
  @Column('timestamptz') startAt!: Date;
  @Column('timestamptz', { nullable: true }) answerAt!: Date | null;
  @Column('timestamptz') endAt!: Date;
  @Column('integer') durationSec!: number;
  @Column('integer') billSec!: number;
  @Column('text') src!: string;
  @Column('text') dst!: string;
  @Column('text') disposition!: string;
  @Column('text', { nullable: true }) routeKind!: string | null;
  @Column('text', { nullable: true }) targetSiteId!: string | null;
  @Column('text', { nullable: true }) trunkId!: string | null;
  /** The site where the call started (as the agent tagged it). */
  @Column('text', { nullable: true }) originSiteId!: string | null;
  /**
   * The call across the federation (`<origin site>/<linkedid there>`): what the agents sent, else this site and
   * the record's linkedid. Every leg of one call, at every site, has the same value.
   */
  @Column('text') callId!: string;
  @Column('integer', { nullable: true }) snapshotRevision!: number | null;
  @Column('text', { nullable: true }) recordingFile!: string | null;
  @Column('timestamptz', { default: () => 'now()' }) receivedAt!: Date;
}
