import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795698603191 implements MigrationInterface {
  name = 'Initial1795698603191';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE TABLE \"audit_log\" (\"id\" BIGSERIAL NOT NULL, \"at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"actor\" text NOT NULL, \"action\" text NOT NULL, \"object_type\" text NOT NULL, \"object_id\" text NOT NULL, \"site_ids\" jsonb NOT NULL, \"before\" jsonb, \"after\" jsonb, CONSTRAINT \"PK_07fefa57f7f5ab8fc3f52b3ed0b\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_ba27cef5b8b2b1a756e06ebcc5\" ON \"audit_log\"  (\"at\") ");
    await q.query("CREATE TABLE \"sites\" (\"id\" text NOT NULL, \"name\" text NOT NULL, \"prefix\" text, \"prefix_required\" boolean NOT NULL DEFAULT false, \"timezone\" text NOT NULL, \"default_class_of_service_id\" text, \"class_of_service_ceiling\" jsonb NOT NULL, \"emergency_numbers\" jsonb NOT NULL, \"main_number\" text, \"network\" jsonb NOT NULL, \"recording\" jsonb NOT NULL, \"ring_timeout_sec\" integer NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_4f5eccb1dfde10c9170502595a7\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE TABLE \"call_flows\" (\"id\" text NOT NULL, \"site_id\" text NOT NULL, \"name\" text NOT NULL, \"number\" text, \"entry\" text NOT NULL, \"nodes\" jsonb NOT NULL, CONSTRAINT \"PK_10daa3063983334480d4db74d5f\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_77200a5661482d7928c21d15bf\" ON \"call_flows\"  (\"site_id\") ");
    await q.query("CREATE TABLE \"classes_of_service\" (\"id\" text NOT NULL, \"name\" text NOT NULL, \"allow\" jsonb NOT NULL, CONSTRAINT \"PK_a3f4bbb861948ae9de8a8f52077\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE TABLE \"extensions\" (\"id\" text NOT NULL, \"site_id\" text NOT NULL, \"number\" text NOT NULL, \"display_name\" text NOT NULL, \"class_of_service_id\" text, \"endpoint\" text, \"sip_secret\" text, \"voicemail\" boolean NOT NULL, \"ring_timeout_sec\" integer NOT NULL, CONSTRAINT \"PK_3632b8148c8f511650d3f3eda06\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE UNIQUE INDEX \"IDX_2bd7505a931e22f7153066c778\" ON \"extensions\"  (\"site_id\", \"number\") ");
    await q.query("CREATE TABLE \"federation_state\" (\"id\" integer NOT NULL, \"version\" bigint NOT NULL, \"hub_site_id\" text, CONSTRAINT \"PK_269d99785ce5e7fd36aa15b9907\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE TABLE \"inbound_routes\" (\"id\" text NOT NULL, \"site_id\" text NOT NULL, \"did\" text NOT NULL, \"trunk_id\" text, \"destination\" jsonb NOT NULL, CONSTRAINT \"PK_4bf73bab20a8e826361f1fd7215\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_9446a9b9cfa10c78b77d27ca14\" ON \"inbound_routes\"  (\"site_id\") ");
    await q.query("CREATE TABLE \"inter_site_links\" (\"id\" text NOT NULL, \"site_a\" text NOT NULL, \"site_b\" text NOT NULL, \"mode\" text NOT NULL, \"registrant\" text, \"secret\" text, \"codecs\" jsonb NOT NULL, CONSTRAINT \"PK_1e802afe0fb71a7f6e2804e97b5\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_ff859c72e24fb2e8a9c90e980b\" ON \"inter_site_links\"  (\"site_a\") ");
    await q.query("CREATE INDEX \"IDX_1a36432e5c3bfa2c2288df93e5\" ON \"inter_site_links\"  (\"site_b\") ");
    await q.query("CREATE TABLE \"number_ranges\" (\"id\" text NOT NULL, \"site_id\" text NOT NULL, \"from_number\" text NOT NULL, \"to_number\" text NOT NULL, \"pstn_prefix\" text, \"description\" text, CONSTRAINT \"PK_ae91ce6fa6150a9446c2a9a73b9\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_56079245a96c1b19d3efe56e38\" ON \"number_ranges\"  (\"site_id\") ");
    await q.query("CREATE TABLE \"trunks\" (\"id\" text NOT NULL, \"site_id\" text NOT NULL, \"name\" text NOT NULL, \"host\" text NOT NULL, \"port\" integer NOT NULL, \"transport\" text NOT NULL, \"register\" boolean NOT NULL, \"username\" text, \"secret\" text, \"from_domain\" text, \"from_user\" text, \"codecs\" jsonb NOT NULL, \"caller_id_number\" text, \"emergency\" boolean NOT NULL, \"max_channels\" integer, CONSTRAINT \"PK_e83c59e49e619ebc24a5fff1364\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_ea8aef483a949561e96db841f2\" ON \"trunks\"  (\"site_id\") ");
    await q.query("CREATE TABLE \"outbound_routes\" (\"id\" text NOT NULL, \"name\" text NOT NULL, \"patterns\" jsonb NOT NULL, \"call_class\" text NOT NULL, \"sites\" jsonb NOT NULL, CONSTRAINT \"PK_a5c6089482164fc42261a5209b7\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE TABLE \"outbound_route_trunks\" (\"route_id\" text NOT NULL, \"position\" integer NOT NULL, \"trunk_id\" text NOT NULL, \"strip\" integer NOT NULL, \"prepend\" text NOT NULL, CONSTRAINT \"PK_acd3b70c11321c6ee65c749327f\" PRIMARY KEY (\"route_id\", \"position\"))");
    await q.query("CREATE TABLE \"site_config_revisions\" (\"site_id\" text NOT NULL, \"revision\" integer NOT NULL, \"content_hash\" text NOT NULL, \"owned\" jsonb NOT NULL, \"reason\" text NOT NULL, \"actor\" text NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_4f91d832dc0931a5ce5e8210b3b\" PRIMARY KEY (\"site_id\", \"revision\"))");
    await q.query("CREATE TABLE \"users\" (\"id\" uuid NOT NULL DEFAULT gen_random_uuid(), \"username\" text NOT NULL, \"password_hash\" text NOT NULL, \"disabled\" boolean NOT NULL DEFAULT false, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_a3ffb1c0c8416b9fc6f907b7433\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE UNIQUE INDEX \"IDX_fe0bb3f6520ee0469504521e71\" ON \"users\"  (\"username\") ");
    await q.query("CREATE TABLE \"grants\" (\"id\" uuid NOT NULL DEFAULT gen_random_uuid(), \"user_id\" uuid NOT NULL, \"role\" text NOT NULL, \"site_id\" text, CONSTRAINT \"PK_a25f5f89eff8b3277f7969b7094\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_501eb48e321a0f302707ec42aa\" ON \"grants\"  (\"user_id\") ");
    await q.query("CREATE UNIQUE INDEX \"IDX_428f4afa07980a376b4da54db9\" ON \"grants\"  (\"user_id\", \"role\", \"site_id\") ");
    await q.query("CREATE TABLE \"api_tokens\" (\"id\" uuid NOT NULL DEFAULT gen_random_uuid(), \"user_id\" uuid NOT NULL, \"name\" text NOT NULL, \"token_hash\" text NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"revoked_at\" TIMESTAMP WITH TIME ZONE, CONSTRAINT \"PK_c587455266b5fa8dace7194caac\" PRIMARY KEY (\"id\"))");
    await q.query("CREATE INDEX \"IDX_b74883f5884a42fd8496d389b2\" ON \"api_tokens\"  (\"user_id\") ");
    await q.query("CREATE UNIQUE INDEX \"IDX_bbd687a104e1921e6702c6e3aa\" ON \"api_tokens\"  (\"token_hash\") ");
    await q.query("ALTER TABLE \"call_flows\" ADD CONSTRAINT \"FK_77200a5661482d7928c21d15bf1\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"extensions\" ADD CONSTRAINT \"FK_818e81bbe7e43cded3f4542a9b5\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"inbound_routes\" ADD CONSTRAINT \"FK_9446a9b9cfa10c78b77d27ca149\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"inter_site_links\" ADD CONSTRAINT \"FK_ff859c72e24fb2e8a9c90e980b3\" FOREIGN KEY (\"site_a\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"inter_site_links\" ADD CONSTRAINT \"FK_1a36432e5c3bfa2c2288df93e57\" FOREIGN KEY (\"site_b\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"number_ranges\" ADD CONSTRAINT \"FK_56079245a96c1b19d3efe56e384\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"trunks\" ADD CONSTRAINT \"FK_ea8aef483a949561e96db841f2f\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"outbound_route_trunks\" ADD CONSTRAINT \"FK_14cf75a3dbb02773ed541595ef6\" FOREIGN KEY (\"route_id\") REFERENCES \"outbound_routes\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"outbound_route_trunks\" ADD CONSTRAINT \"FK_ec5a938fc70ddd7098fe43406f5\" FOREIGN KEY (\"trunk_id\") REFERENCES \"trunks\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"grants\" ADD CONSTRAINT \"FK_501eb48e321a0f302707ec42aa3\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"grants\" ADD CONSTRAINT \"FK_3c627a737b9441def81c1f002b5\" FOREIGN KEY (\"site_id\") REFERENCES \"sites\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await q.query("ALTER TABLE \"api_tokens\" ADD CONSTRAINT \"FK_b74883f5884a42fd8496d389b25\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    // The one row every federation write locks (FederationStateEntity).
    await q.query(`INSERT INTO "federation_state" ("id", "version", "hub_site_id") VALUES (1, 0, NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE \"api_tokens\" DROP CONSTRAINT \"FK_b74883f5884a42fd8496d389b25\"");
    await q.query("ALTER TABLE \"grants\" DROP CONSTRAINT \"FK_3c627a737b9441def81c1f002b5\"");
    await q.query("ALTER TABLE \"grants\" DROP CONSTRAINT \"FK_501eb48e321a0f302707ec42aa3\"");
    await q.query("ALTER TABLE \"outbound_route_trunks\" DROP CONSTRAINT \"FK_ec5a938fc70ddd7098fe43406f5\"");
    await q.query("ALTER TABLE \"outbound_route_trunks\" DROP CONSTRAINT \"FK_14cf75a3dbb02773ed541595ef6\"");
    await q.query("ALTER TABLE \"trunks\" DROP CONSTRAINT \"FK_ea8aef483a949561e96db841f2f\"");
    await q.query("ALTER TABLE \"number_ranges\" DROP CONSTRAINT \"FK_56079245a96c1b19d3efe56e384\"");
    await q.query("ALTER TABLE \"inter_site_links\" DROP CONSTRAINT \"FK_1a36432e5c3bfa2c2288df93e57\"");
    await q.query("ALTER TABLE \"inter_site_links\" DROP CONSTRAINT \"FK_ff859c72e24fb2e8a9c90e980b3\"");
    await q.query("ALTER TABLE \"inbound_routes\" DROP CONSTRAINT \"FK_9446a9b9cfa10c78b77d27ca149\"");
    await q.query("ALTER TABLE \"extensions\" DROP CONSTRAINT \"FK_818e81bbe7e43cded3f4542a9b5\"");
    await q.query("ALTER TABLE \"call_flows\" DROP CONSTRAINT \"FK_77200a5661482d7928c21d15bf1\"");
    await q.query("DROP INDEX \"public\".\"IDX_bbd687a104e1921e6702c6e3aa\"");
    await q.query("DROP INDEX \"public\".\"IDX_b74883f5884a42fd8496d389b2\"");
    await q.query("DROP TABLE \"api_tokens\"");
    await q.query("DROP INDEX \"public\".\"IDX_428f4afa07980a376b4da54db9\"");
    await q.query("DROP INDEX \"public\".\"IDX_501eb48e321a0f302707ec42aa\"");
    await q.query("DROP TABLE \"grants\"");
    await q.query("DROP INDEX \"public\".\"IDX_fe0bb3f6520ee0469504521e71\"");
    await q.query("DROP TABLE \"users\"");
    await q.query("DROP TABLE \"site_config_revisions\"");
    await q.query("DROP TABLE \"outbound_route_trunks\"");
    await q.query("DROP TABLE \"outbound_routes\"");
    await q.query("DROP INDEX \"public\".\"IDX_ea8aef483a949561e96db841f2\"");
    await q.query("DROP TABLE \"trunks\"");
    await q.query("DROP INDEX \"public\".\"IDX_56079245a96c1b19d3efe56e38\"");
    await q.query("DROP TABLE \"number_ranges\"");
    await q.query("DROP INDEX \"public\".\"IDX_1a36432e5c3bfa2c2288df93e5\"");
    await q.query("DROP INDEX \"public\".\"IDX_ff859c72e24fb2e8a9c90e980b\"");
    await q.query("DROP TABLE \"inter_site_links\"");
    await q.query("DROP INDEX \"public\".\"IDX_9446a9b9cfa10c78b77d27ca14\"");
    await q.query("DROP TABLE \"inbound_routes\"");
    await q.query("DROP TABLE \"federation_state\"");
    await q.query("DROP INDEX \"public\".\"IDX_2bd7505a931e22f7153066c778\"");
    await q.query("DROP TABLE \"extensions\"");
    await q.query("DROP TABLE \"classes_of_service\"");
    await q.query("DROP INDEX \"public\".\"IDX_77200a5661482d7928c21d15bf\"");
    await q.query("DROP TABLE \"call_flows\"");
    await q.query("DROP TABLE \"sites\"");
    await q.query("DROP INDEX \"public\".\"IDX_ba27cef5b8b2b1a756e06ebcc5\"");
    await q.query("DROP TABLE \"audit_log\"");
  }
}
