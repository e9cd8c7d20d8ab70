import type { MigrationInterface, QueryRunner } from 'typeorm';

export class EventIngest1795706557139 implements MigrationInterface {
  name = 'EventIngest1795706557139';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE \"agent_status\" (\"site_id\" text NOT NULL, \"at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"received_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"agent_version\" text NOT NULL, \"applied_revision\" integer NOT NULL, \"uptime_sec\" double precision NOT NULL, \"agi_sessions_active\" integer NOT NULL, \"ami_connected\" boolean NOT NULL, CONSTRAINT \"PK_8938fd7264d6da2b2b0ddc7bf1a\" PRIMARY KEY (\"site_id\"))");
    await q.query("CREATE TABLE \"agent_link_status\" (\"site_id\" text NOT NULL, \"peer_site_id\" text NOT NULL, \"at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"state\" text NOT NULL, \"source\" text NOT NULL, \"rtt_ms\" double precision, \"wireguard_handshake_age_sec\" double precision, CONSTRAINT \"PK_0885f16272fcc2aa308bfcbfec0\" PRIMARY KEY (\"site_id\", \"peer_site_id\"))");
    await q.query("CREATE TABLE \"agent_trunk_status\" (\"site_id\" text NOT NULL, \"trunk_id\" text NOT NULL, \"at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"state\" text NOT NULL, \"registration\" text, CONSTRAINT \"PK_f818b126103050983586bfa5a93\" PRIMARY KEY (\"site_id\", \"trunk_id\"))");
    await q.query("CREATE TABLE \"cdrs\" (\"site_id\" text NOT NULL, \"cdr_id\" text NOT NULL, \"event_id\" text NOT NULL, \"unique_id\" text NOT NULL, \"linked_id\" text NOT NULL, \"start_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"answer_at\" TIMESTAMP WITH TIME ZONE, \"end_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"duration_sec\" integer NOT NULL, \"bill_sec\" integer NOT NULL, \"src\" text NOT NULL, \"dst\" text NOT NULL, \"disposition\" text NOT NULL, \"route_kind\" text, \"target_site_id\" text, \"trunk_id\" text, \"snapshot_revision\" integer, \"recording_file\" text, \"received_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_2476e27844c70f6b5af4ec1a281\" PRIMARY KEY (\"site_id\", \"cdr_id\"))");
    await q.query("CREATE INDEX \"idx_cdrs_site_newest\" ON \"cdrs\"  (\"site_id\", \"start_at\") ");
    await q.query("CREATE INDEX \"idx_cdrs_newest\" ON \"cdrs\"  (\"start_at\", \"site_id\", \"cdr_id\") ");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP INDEX \"public\".\"idx_cdrs_newest\"");
    await q.query("DROP INDEX \"public\".\"idx_cdrs_site_newest\"");
    await q.query("DROP TABLE \"cdrs\"");
    await q.query("DROP TABLE \"agent_trunk_status\"");
    await q.query("DROP TABLE \"agent_link_status\"");
    await q.query("DROP TABLE \"agent_status\"");
  }
}
