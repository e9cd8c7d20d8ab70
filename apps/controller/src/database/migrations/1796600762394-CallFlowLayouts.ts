import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where the console draws a flow's nodes leaves the flow (and so the site snapshot) for call_flow_layouts: moving a
 * box no longer makes a revision. Stored positions move there; they are removed from the flows and from the
 * flows recorded in revisions (a rollback restores routing only). Going down puts them back into the flows.
 */
export class CallFlowLayouts1796600762394 implements MigrationInterface {
  name = 'CallFlowLayouts1796600762394';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE \"call_flow_layouts\" (\"flow_id\" text NOT NULL, \"nodes\" jsonb NOT NULL, \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_07aad4687f4ea9d5e75b8e3217e\" PRIMARY KEY (\"flow_id\"))");
    await q.query("ALTER TABLE \"call_flow_layouts\" ADD CONSTRAINT \"FK_07aad4687f4ea9d5e75b8e3217e\" FOREIGN KEY (\"flow_id\") REFERENCES \"call_flows\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query(`INSERT INTO "call_flow_layouts" ("flow_id", "nodes")
      SELECT f."id", jsonb_object_agg(n->>'id', n->'position')
        FROM "call_flows" f, jsonb_array_elements(f."nodes") n
       WHERE n ? 'position'
       GROUP BY f."id"`);
    await q.query(`UPDATE "call_flows" SET "nodes" = ${withoutPositions('"nodes"')} WHERE ${hasPosition('"nodes"')}`);
    await q.query(`UPDATE "site_config_revisions" SET "owned" = jsonb_set("owned", '{callFlows}', (
        SELECT jsonb_agg(jsonb_set(f, '{nodes}', ${withoutPositions("f->'nodes'")}) ORDER BY i)
          FROM jsonb_array_elements("owned"->'callFlows') WITH ORDINALITY AS t(f, i)))
      WHERE jsonb_typeof("owned"->'callFlows') = 'array' AND jsonb_array_length("owned"->'callFlows') > 0
        AND EXISTS (SELECT 1 FROM jsonb_array_elements("owned"->'callFlows') f WHERE ${hasPosition("f->'nodes'")})`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE "call_flows" f SET "nodes" = (
        SELECT jsonb_agg(CASE WHEN l."nodes" ? (n->>'id') THEN n || jsonb_build_object('position', l."nodes"->(n->>'id')) ELSE n END ORDER BY i)
          FROM jsonb_array_elements(f."nodes") WITH ORDINALITY AS t(n, i))
      FROM "call_flow_layouts" l WHERE l."flow_id" = f."id"`);
    await q.query("ALTER TABLE \"call_flow_layouts\" DROP CONSTRAINT \"FK_07aad4687f4ea9d5e75b8e3217e\"");
    await q.query("DROP TABLE \"call_flow_layouts\"");
  }
}

/** A jsonb array of nodes without their `position` keys, in order. */
function withoutPositions(nodes: string): string {
  return `(SELECT jsonb_agg(n - 'position' ORDER BY i) FROM jsonb_array_elements(${nodes}) WITH ORDINALITY AS t(n, i))`;
}

function hasPosition(nodes: string): string {
  return `EXISTS (SELECT 1 FROM jsonb_array_elements(${nodes}) n WHERE n ? 'position')`;
}
