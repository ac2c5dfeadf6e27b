#include "store/pg_migrations.h"

namespace wiretag::pg {
namespace {

// Append only: a released schema version is never edited. Each version matches the SQLite
// one of the same number; the differences are the dialect's:
// - text columns collate "C" (byte order), as SQLite's BINARY, so ORDER BY agrees;
// - INTEGER PRIMARY KEY row ids are BIGSERIAL; tokens get `seq` for SQLite's rowid order;
// - change_sequence holds the highest revision ever appended (SQLite's sqlite_sequence);
// - pap_audit's column "user" is quoted (a reserved word).
const Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE accounts (id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL);
INSERT INTO accounts (id, created_at) VALUES ('default', CAST(extract(epoch FROM now()) AS BIGINT));
CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE apps (
  guid TEXT COLLATE "C" PRIMARY KEY,
  account TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
  tag BIGINT NOT NULL UNIQUE
);
CREATE INDEX apps_by_account ON apps(account, guid);
CREATE TABLE tags (tag BIGINT PRIMARY KEY, app TEXT COLLATE "C", released_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX tags_released ON tags(released_at) WHERE app IS NULL;
CREATE TABLE edges (
  id BIGSERIAL PRIMARY KEY,
  account TEXT COLLATE "C" NOT NULL,
  policy TEXT COLLATE "C" NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  destination TEXT COLLATE "C" NOT NULL,
  protocol TEXT COLLATE "C" NOT NULL,
  port_start BIGINT NOT NULL,  -- 0,0 = all ports
  port_end BIGINT NOT NULL,
  UNIQUE (destination, source, policy, account, protocol, port_start, port_end)
);
CREATE INDEX edges_by_source ON edges(source);
CREATE TABLE changes (
  revision BIGINT PRIMARY KEY,
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE TABLE change_sequence (id INT PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL);
INSERT INTO change_sequence (id, revision) VALUES (1, 0);
CREATE TABLE tokens (
  seq BIGSERIAL NOT NULL,
  hash TEXT COLLATE "C" PRIMARY KEY,
  scopes TEXT NOT NULL,
  accounts TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
)sql"},
    {2, R"sql(
CREATE TABLE policies (
  id TEXT COLLATE "C" PRIMARY KEY,
  account TEXT COLLATE "C" NOT NULL,
  refid TEXT COLLATE "C",
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX policies_by_refid ON policies(account, refid);
CREATE TABLE policy_versions (
  id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (id, version)
);
)sql"},
    {3, R"sql(
CREATE TABLE pdp_groups (
  name TEXT COLLATE "C" PRIMARY KEY,
  description TEXT NOT NULL,
  state TEXT NOT NULL,
  properties TEXT NOT NULL
);
CREATE TABLE pdp_subgroups (
  grp TEXT COLLATE "C" NOT NULL,
  pdp_type TEXT COLLATE "C" NOT NULL,
  desired_instances BIGINT NOT NULL,
  supported_types TEXT NOT NULL,
  properties TEXT NOT NULL,
  PRIMARY KEY (grp, pdp_type)
);
CREATE TABLE pdp_deployments (
  grp TEXT COLLATE "C" NOT NULL,
  pdp_type TEXT COLLATE "C" NOT NULL,
  policy TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  deployed_at_ms BIGINT NOT NULL,
  PRIMARY KEY (grp, pdp_type, policy)
);
CREATE TABLE pap_audit (
  id BIGSERIAL PRIMARY KEY,
  grp TEXT COLLATE "C" NOT NULL,
  pdp_type TEXT COLLATE "C" NOT NULL,
  policy TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  action TEXT COLLATE "C" NOT NULL,
  detail TEXT NOT NULL,
  "user" TEXT NOT NULL,
  at_ms BIGINT NOT NULL
);
CREATE INDEX pap_audit_by_time ON pap_audit(at_ms);
-- SPEC §2: defaultGroup exists, with default-whitelist (every account's) deployed on it.
INSERT INTO pdp_groups VALUES ('defaultGroup', 'The default group: every cell that names no other',
                               'ACTIVE', '{}');
INSERT INTO pdp_subgroups VALUES ('defaultGroup', 'tc', 0,
                                  '[{"name":"wiretag.policies.Whitelist","version":"1.0.0"}]', '{}');
INSERT INTO pdp_deployments VALUES ('defaultGroup', 'tc', 'default-whitelist', '1.0.0',
                                    CAST(extract(epoch FROM now()) AS BIGINT) * 1000);
)sql"},
    // Token lifecycle (list, revoke, expiry, last use) and cell tokens bound to one cell.
    {4, R"sql(
ALTER TABLE tokens ADD COLUMN id TEXT COLLATE "C";
ALTER TABLE tokens ADD COLUMN cell TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
UPDATE tokens SET id = substr(hash, 1, 16);
CREATE UNIQUE INDEX tokens_by_id ON tokens(id);
)sql"},
    // The lifecycle API's policy types (wiretag.policies.Whitelist 1.0.0 is built in).
    {5, R"sql(
CREATE TABLE policy_types (
  name TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  derived_from TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
)sql"},
    // Who made each change (the change log's principal); '' for changes from before.
    {6, R"sql(
ALTER TABLE changes ADD COLUMN principal TEXT NOT NULL DEFAULT '';
)sql"},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace wiretag::pg
