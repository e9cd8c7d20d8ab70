import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The alarms each site's agent last reported with its heartbeat (AgentAlarm[]); none for existing rows. */
export class AgentAlarms1795930000000 implements MigrationInterface {
  name = 'AgentAlarms1795930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "agent_status" ADD "alarms" jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "agent_status" DROP COLUMN "alarms"');
  }
}
