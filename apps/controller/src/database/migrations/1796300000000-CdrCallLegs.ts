import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each CDR's place in a call across sites: the site the call started at, and the federation call id that groups
 * the legs (`<origin site>/<linkedid there>`). Existing records get their own site and linkedid as call id: they
 * group as before, per site.
 */
export class CdrCallLegs1796300000000 implements MigrationInterface {
  name = 'CdrCallLegs1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "cdrs" ADD "origin_site_id" text`);
    await q.query(`ALTER TABLE "cdrs" ADD "call_id" text`);
    await q.query(`UPDATE "cdrs" SET "call_id" = "site_id" || '/' || "linked_id"`);
    await q.query(`ALTER TABLE "cdrs" ALTER COLUMN "call_id" SET NOT NULL`);
    await q.query(`CREATE INDEX "idx_cdrs_call" ON "cdrs" ("call_id", "start_at") `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."idx_cdrs_call"`);
    await q.query(`ALTER TABLE "cdrs" DROP COLUMN "call_id"`);
    await q.query(`ALTER TABLE "cdrs" DROP COLUMN "origin_site_id"`);
  }
}
