import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Server-side sessions with rotating refresh tokens, shared login throttling (counters and the sources each user
 * signed in from), forced password change, and API tokens with an expiry, a scope (read-only, a subset of the
 * user's grants), last-used time and who revoked them.
 */
export class AuthSessions1795920000000 implements MigrationInterface {
  name = 'AuthSessions1795920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE \"sessions\" (\"id\" uuid NOT NULL DEFAULT gen_random_uuid(), \"user_id\" uuid NOT NULL, \"source\" text NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"last_seen_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"revoked_at\" TIMESTAMP WITH TIME ZONE, \"revoked_reason\" text, CONSTRAINT \"PK_3238ef96f18b355b671619111bc\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_085d540d9f418cfbdc7bd55bb1\" ON \"sessions\"  (\"user_id\") ");
    await q.query("CREATE TABLE \"refresh_tokens\" (\"token_hash\" text NOT NULL, \"session_id\" uuid NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"rotated_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_a7838d2ba25be1342091b6695f1\" PRIMARY KEY (\"token_hash\"))");
    await q.query("CREATE INDEX \"IDX_3bf308fa93da3966f9e76fcfba\" ON \"refresh_tokens\"  (\"session_id\") ");
    await q.query("CREATE TABLE \"login_throttles\" (\"key\" text NOT NULL, \"failures\" integer NOT NULL, \"last_failure_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"blocked_until\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_366650e3560115bd25315ca53d0\" PRIMARY KEY (\"key\"))");
    await q.query("CREATE INDEX \"IDX_c34e8e0fe0f587f288db1bc4b3\" ON \"login_throttles\"  (\"last_failure_at\") ");
    await q.query("CREATE TABLE \"login_known_sources\" (\"user_id\" uuid NOT NULL, \"source\" text NOT NULL, \"last_success_at\" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT \"PK_075accbe35b8d920df076206605\" PRIMARY KEY (\"user_id\", \"source\"))");
    await q.query("ALTER TABLE \"users\" ADD \"must_change_password\" boolean NOT NULL DEFAULT false");
    await q.query("ALTER TABLE \"users\" ADD \"password_changed_at\" TIMESTAMP WITH TIME ZONE");
    await q.query("ALTER TABLE \"api_tokens\" ADD \"expires_at\" TIMESTAMP WITH TIME ZONE");
    // Tokens from before expiry existed: 90 days from the upgrade, time for head office to replace them.
    await q.query("UPDATE \"api_tokens\" SET \"expires_at\" = now() + interval '90 days'");
    await q.query("ALTER TABLE \"api_tokens\" ALTER COLUMN \"expires_at\" SET NOT NULL");
    await q.query("ALTER TABLE \"api_tokens\" ADD \"read_only\" boolean NOT NULL DEFAULT false");
    await q.query("ALTER TABLE \"api_tokens\" ADD \"grants\" jsonb");
    await q.query("ALTER TABLE \"api_tokens\" ADD \"last_used_at\" TIMESTAMP WITH TIME ZONE");
    await q.query("ALTER TABLE \"api_tokens\" ADD \"revoked_by\" text");
    await q.query("ALTER TABLE \"sessions\" ADD CONSTRAINT \"FK_085d540d9f418cfbdc7bd55bb19\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"refresh_tokens\" ADD CONSTRAINT \"FK_3bf308fa93da3966f9e76fcfba4\" FOREIGN KEY (\"session_id\") REFERENCES \"sessions\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"login_known_sources\" ADD CONSTRAINT \"FK_79fce8a21c2156023b336e4a951\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE \"login_known_sources\" DROP CONSTRAINT \"FK_79fce8a21c2156023b336e4a951\"");
    await q.query("ALTER TABLE \"refresh_tokens\" DROP CONSTRAINT \"FK_3bf308fa93da3966f9e76fcfba4\"");
    await q.query("ALTER TABLE \"sessions\" DROP CONSTRAINT \"FK_085d540d9f418cfbdc7bd55bb19\"");
    // Without these columns a limited or expired token would act with all its user's rights again: it is revoked instead.
    await q.query("UPDATE \"api_tokens\" SET \"revoked_at\" = now() WHERE \"revoked_at\" IS NULL AND (\"read_only\" OR \"grants\" IS NOT NULL OR \"expires_at\" <= now())");
    await q.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"revoked_by\"");
    await q.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"last_used_at\"");
    await q.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"grants\"");
    await q.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"read_only\"");
    await q.query("ALTER TABLE \"api_tokens\" DROP COLUMN \"expires_at\"");
    await q.query("ALTER TABLE \"users\" DROP COLUMN \"password_changed_at\"");
    await q.query("ALTER TABLE \"users\" DROP COLUMN \"must_change_password\"");
    await q.query("DROP TABLE \"login_known_sources\"");
    await q.query("DROP INDEX \"public\".\"IDX_c34e8e0fe0f587f288db1bc4b3\"");
    await q.query("DROP TABLE \"login_throttles\"");
    await q.query("DROP INDEX \"public\".\"IDX_3bf308fa93da3966f9e76fcfba\"");
    await q.query("DROP TABLE \"refresh_tokens\"");
    await q.query("DROP INDEX \"public\".\"IDX_085d540d9f418cfbdc7bd55bb1\"");
    await q.query("DROP TABLE \"sessions\"");
  }
}
