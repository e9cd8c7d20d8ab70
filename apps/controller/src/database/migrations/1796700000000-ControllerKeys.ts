import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Keys the controller replicas share (the access-token key when FEDPBX_TOKEN_SECRET is not set). */
export class ControllerKeys1796700000000 implements MigrationInterface {
  name = 'ControllerKeys1796700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "controller_keys" ("name" text NOT NULL, "value" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_controller_keys" PRIMARY KEY ("name"))',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "controller_keys"');
  }
}
