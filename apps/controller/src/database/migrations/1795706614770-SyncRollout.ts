import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Snapshot rollout per site (published / applied / refused) and one-time agent enrollment tokens. */
export class SyncRollout1795706614770 implements MigrationInterface {
  name = 'SyncRollout1795706614770';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE \"enrollment_tokens\" (\"id\" uuid NOT NULL DEFAULT gen_random_uuid(), \"site_id\" text NOT NULL, \"token_hash\" text NOT NULL, \"created_by\" text NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"used_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_d9b043a74d8643fde7e6b948591\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_2c5fba267ca320ee94d4dcbef5\" ON \"enrollment_tokens\"  (\"site_id\") ");
    await q.query("CREATE UNIQUE INDEX \"IDX_26dd8dccb908ba72ff0f6fc309\" ON \"enrollment_tokens\"  (\"token_hash\") ");
    await q.query("CREATE TABLE \"site_rollouts\" (\"site_id\" text NOT NULL, \"published_revision\" integer, \"published_hash\" text, \"published_at\" TIMESTAMP WITH TIME ZONE, \"applied_revision\" integer, \"applied_at\" TIMESTAMP WITH TIME ZONE, \"refused_revision\" integer, \"refused_reason\" text, \"refused_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_dffea73245a23c1ee904d6b43cd\" PRIMARY KEY (\"site_id\"))");
    await q.query("ALTER TABLE \"enrollment_tokens\" ADD CONSTRAINT \"FK_2c5fba267ca320ee94d4dcbef56\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"site_rollouts\" ADD CONSTRAINT \"FK_dffea73245a23c1ee904d6b43cd\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE \"site_rollouts\" DROP CONSTRAINT \"FK_dffea73245a23c1ee904d6b43cd\"");
    await q.query("ALTER TABLE \"enrollment_tokens\" DROP CONSTRAINT \"FK_2c5fba267ca320ee94d4dcbef56\"");
    await q.query("DROP TABLE \"site_rollouts\"");
    await q.query("DROP INDEX \"public\".\"IDX_26dd8dccb908ba72ff0f6fc309\"");
    await q.query("DROP INDEX \"public\".\"IDX_2c5fba267ca320ee94d4dcbef5\"");
    await q.query("DROP TABLE \"enrollment_tokens\"");
  }
}
