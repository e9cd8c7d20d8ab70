import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Enrollment tokens can be revoked by head office (revoked_at, revoked_by). A token ends used or revoked, never
 * both. Existing tokens stay as they were (not revoked).
 */
export class EnrollmentTokenRevocation1795910000000 implements MigrationInterface {
  name = 'EnrollmentTokenRevocation1795910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "enrollment_tokens" ADD "revoked_at" TIMESTAMP WITH TIME ZONE');
    await q.query('ALTER TABLE "enrollment_tokens" ADD "revoked_by" text');
    await q.query('ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "CHK_enrollment_tokens_revoked_by" CHECK (("revoked_at" IS NULL) = ("revoked_by" IS NULL))');
    await q.query('ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "CHK_enrollment_tokens_used_or_revoked" CHECK ("used_at" IS NULL OR "revoked_at" IS NULL)');
  }

  async down(q: QueryRunner): Promise<void> {
    // Without the column a revoked token would be usable again: it expires when it was revoked instead.
    await q.query('UPDATE "enrollment_tokens" SET "expires_at" = LEAST("expires_at", "revoked_at") WHERE "revoked_at" IS NOT NULL AND "used_at" IS NULL');
    await q.query('ALTER TABLE "enrollment_tokens" DROP CONSTRAINT "CHK_enrollment_tokens_used_or_revoked"');
    await q.query('ALTER TABLE "enrollment_tokens" DROP CONSTRAINT "CHK_enrollment_tokens_revoked_by"');
    await q.query('ALTER TABLE "enrollment_tokens" DROP COLUMN "revoked_by"');
    await q.query('ALTER TABLE "enrollment_tokens" DROP COLUMN "revoked_at"');
  }
}
