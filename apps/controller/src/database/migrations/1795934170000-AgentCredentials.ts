import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Agent NATS users the controller issued (public key, lifetime, revocation): what renewal checks and what the
 * account JWT's revocations are made from. Agents enrolled before this table existed hold credentials without
 * expiry that it does not know: re-enroll them (README "Agent credentials").
 */
export class AgentCredentials1795934170000 implements MigrationInterface {
  name = 'AgentCredentials1795934170000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "agent_credentials" ("user_key" text NOT NULL, "site_id" text NOT NULL, "origin" text NOT NULL, "issued_at" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_by" text, CONSTRAINT "CHK_agent_credentials_origin" CHECK ("origin" IN ('enrollment', 'renewal')), CONSTRAINT "CHK_agent_credentials_revoked_by" CHECK (("revoked_at" IS NULL) = ("revoked_by" IS NULL)), CONSTRAINT "PK_agent_credentials" PRIMARY KEY ("user_key"))`,
    );
    await q.query('CREATE INDEX "IDX_agent_credentials_site_issued" ON "agent_credentials" ("site_id", "issued_at") ');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "public"."IDX_agent_credentials_site_issued"');
    await q.query('DROP TABLE "agent_credentials"');
  }
}
