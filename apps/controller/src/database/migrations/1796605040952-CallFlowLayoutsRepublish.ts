import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Marks the layouts that came out of the flows (CallFlowLayouts): their sites' head revisions and published
 * snapshots still carry the positions, and an agent on today's contracts refuses such a snapshot. The controller
 * writes each such site a revision without them at its next start and clears the mark.
 */
export class CallFlowLayoutsRepublish1796605040952 implements MigrationInterface {
  name = 'CallFlowLayoutsRepublish1796605040952';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "call_flow_layouts" ADD "moved_from_snapshot" boolean NOT NULL DEFAULT false');
    // Rows saved through the API since are marked too: for them the republish finds nothing to change.
    await q.query('UPDATE "call_flow_layouts" SET "moved_from_snapshot" = true');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "call_flow_layouts" DROP COLUMN "moved_from_snapshot"');
  }
}
