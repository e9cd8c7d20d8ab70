import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Mailboxes: an extension's voicemail PIN (write-only, like its SIP secret) and e-mail address, rendered into the
 * site's voicemail_fedpbx.conf. An extension that already has voicemail gets a random 8-digit PIN: an empty
 * voicemail.conf password would let anyone into the mailbox, and an extension with voicemail must have one
 * (contracts `Extension`). gen_random_uuid() is PostgreSQL's strong random source (pg_strong_random).
 *
 * Rollouts: the agent's last report on the Asterisk include files (`config.written` / `config.failed`).
 */
export class VoicemailAndConfigOutcome1796200000000 implements MigrationInterface {
  name = 'VoicemailAndConfigOutcome1796200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "extensions" ADD "voicemail_pin" text');
    await q.query('ALTER TABLE "extensions" ADD "email" text');
    await q.query(
      `UPDATE "extensions" SET "voicemail_pin" = lpad((abs(('x' || substr(md5(gen_random_uuid()::text), 1, 8))::bit(32)::bigint) % 100000000)::text, 8, '0')
        WHERE "voicemail" AND "voicemail_pin" IS NULL`,
    );
    await q.query('ALTER TABLE "site_rollouts" ADD "config_revision" integer');
    await q.query('ALTER TABLE "site_rollouts" ADD "config_at" TIMESTAMP WITH TIME ZONE');
    await q.query('ALTER TABLE "site_rollouts" ADD "config_failure" jsonb');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "site_rollouts" DROP COLUMN "config_failure"');
    await q.query('ALTER TABLE "site_rollouts" DROP COLUMN "config_at"');
    await q.query('ALTER TABLE "site_rollouts" DROP COLUMN "config_revision"');
    await q.query('ALTER TABLE "extensions" DROP COLUMN "email"');
    await q.query('ALTER TABLE "extensions" DROP COLUMN "voicemail_pin"');
  }
}
