import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A NATS user the controller issued to a site's agent (at enrollment or renewal): its public key, lifetime and,
 * once ended, when and by whom it was revoked. Kept after the site is deleted (no foreign key): a decommissioned
 * site's keys stay in the account JWT's revocations until their JWTs expire. The seed is never here.
 */
@Entity('agent_credentials')
@Check('CHK_agent_credentials_revoked_by', '("revoked_at" IS NULL) = ("revoked_by" IS NULL)')
@Check('CHK_agent_credentials_origin', `"origin" IN ('enrollment', 'renewal')`)
@Index('IDX_agent_credentials_site_issued', ['siteId', 'issuedAt'])
export class AgentCredentialEntity {
  /** The user nkey public key (`U...`): what a revocation names. */
  @PrimaryColumn('text') userKey!: string;
  @Column('text') siteId!: string;
  @Column('text') origin!: 'enrollment' | 'renewal';
  /** The JWT's `iat`. */
  @Column('timestamptz') issuedAt!: Date;
  @Column('timestamptz') expiresAt!: Date;
  @Column('timestamptz', { nullable: true }) revokedAt!: Date | null;
  @Column('text', { nullable: true }) revokedBy!: string | null;
}
