import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A revision's owned objects may be left out (NULL) when they are those of the site's previous revision: a change
 * to the numbering plan gives every site a new revision while only one site's own objects changed.
 */
export class RevisionOwnedShared1795900000000 implements MigrationInterface {
  name = 'RevisionOwnedShared1795900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "site_config_revisions" ALTER COLUMN "owned" DROP NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    // Fill each left-out row from the nearest earlier revision that has its objects, then require them again.
    await q.query(`UPDATE "site_config_revisions" r SET "owned" = (
        SELECT p."owned" FROM "site_config_revisions" p
         WHERE p."site_id" = r."site_id" AND p."revision" < r."revision" AND p."owned" IS NOT NULL
         ORDER BY p."revision" DESC LIMIT 1)
      WHERE r."owned" IS NULL`);
    await q.query('ALTER TABLE "site_config_revisions" ALTER COLUMN "owned" SET NOT NULL');
  }
}
