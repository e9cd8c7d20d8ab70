import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A site's busy-lamp setting (contracts PresenceSettings); NULL = share every extension, show no remote lamp. */
export class SitePresence1796601176121 implements MigrationInterface {
  name = 'SitePresence1796601176121';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sites" ADD "presence" jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sites" DROP COLUMN "presence"`);
  }
}
