import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * What a site's agent last reported, one row per site (links and trunks per peer/trunk). Every row keeps the
 * agent's `at` of the event it came from: an event older than the stored one never overwrites it, so a backlog
 * drained after an outage cannot roll the status back. No foreign key to `sites` (rows of a deleted site are
 * simply no longer listed).
 */
@Entity('agent_status')
export class AgentStatusEntity {
  @PrimaryColumn('text') siteId!: string;
  /** The newest heartbeat's `at` (agent clock). */
  @Column('timestamptz') at!: Date;
  /** When the controller stored that heartbeat (controller clock): a dead agent with a fast clock still goes offline. */
  @Column('timestamptz') receivedAt!: Date;
  @Column('text') agentVersion!: string;
  @Column('integer') appliedRevision!: number;
  @Column('double precision') uptimeSec!: number;
  @Column('integer') agiSessionsActive!: number;
  @Column('boolean') amiConnected!: boolean;
  /** The alarms in force at the site (AgentAlarm[]), from that heartbeat. */
  @Column('jsonb', { default: () => "'[]'" }) alarms!: unknown[];
}

@Entity('agent_link_status')
export class AgentLinkStatusEntity {
  @PrimaryColumn('text') siteId!: string;
  @PrimaryColumn('text') peerSiteId!: string;
  @Column('timestamptz') at!: Date;
  @Column('text') state!: string;
  @Column('text') source!: string;
  @Column('double precision', { nullable: true }) rttMs!: number | null;
  @Column('double precision', { nullable: true }) wireguardHandshakeAgeSec!: number | null;
}

@Entity('agent_trunk_status')
export class AgentTrunkStatusEntity {
  @PrimaryColumn('text') siteId!: string;
  @PrimaryColumn('text') trunkId!: string;
  @Column('timestamptz') at!: Date;
  @Column('text') state!: string;
  @Column('text', { nullable: true }) registration!: string | null;
}
