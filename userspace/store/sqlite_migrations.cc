#include "store/sqlite_migrations.h"

namespace wiretag::sqlite {
namespace {

// Append only: a released schema version is never edited.
const Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE accounts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
INSERT INTO accounts (id, created_at) VALUES ('default', strftime('%s','now'));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE apps (
  guid TEXT PRIMARY KEY,
  account TEXT NOT NULL REFERENCES accounts(id),
  tag INTEGER NOT NULL UNIQUE
);
CREATE INDEX apps_by_account ON apps(account, guid);
CREATE TABLE tags (tag INTEGER PRIMARY KEY, app TEXT, released_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX tags_released ON tags(released_at) WHERE app IS NULL;
CREATE TABLE edges (
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  policy TEXT NOT NULL,
  source TEXT NOT NULL,
  destination TEXT NOT NULL,
  protocol TEXT NOT NULL,
  port_start INTEGER NOT NULL,  -- 0,0 = all ports
  port_end INTEGER NOT NULL,
  UNIQUE (destination, source, policy, account, protocol, port_start, port_end)
);
CREATE INDEX edges_by_source ON edges(source);
CREATE TABLE changes (
  revision INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  scopes TEXT NOT NULL,
  accounts TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql"},
    {2, R"sql(
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  refid TEXT,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX policies_by_refid ON policies(account, refid);
CREATE TABLE policy_versions (
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (id, version)
);
)sql"},
    {3, R"sql(
CREATE TABLE pdp_groups (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  state TEXT NOT NULL,
  properties TEXT NOT NULL
);
CREATE TABLE pdp_subgroups (
  grp TEXT NOT NULL,
  pdp_type TEXT NOT NULL,
  desired_instances INTEGER NOT NULL,
  supported_types TEXT NOT NULL,
  properties TEXT NOT NULL,
  PRIMARY KEY (grp, pdp_type)
);
CREATE TABLE pdp_deployments (
  grp TEXT NOT NULL,
  pdp_type TEXT NOT NULL,
  policy TEXT NOT NULL,
  version TEXT NOT NULL,
  deployed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (grp, pdp_type, policy)
);
CREATE TABLE pap_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  grp TEXT NOT NULL,
  pdp_type TEXT NOT NULL,
  policy TEXT NOT NULL,
  version TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  user TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX pap_audit_by_time ON pap_audit(at_ms);
-- SPEC §2: defaultGroup exists, with default-whitelist (every account's) deployed on it.
INSERT INTO pdp_groups VALUES ('defaultGroup', 'The default group: every cell that names no other',
                               'ACTIVE', '{}');
INSERT INTO pdp_subgroups VALUES ('defaultGroup', 'tc', 0,
                                  '[{"name":"wiretag.policies.Whitelist","version":"1.0.0"}]', '{}');
INSERT INTO pdp_deployments VALUES ('defaultGroup', 'tc', 'default-whitelist', '1.0.0',
                                    CAST(strftime('%s','now') AS INTEGER) * 1000);
)sql"},
    // Token lifecycle (list, revoke, expiry, last use) and cell tokens bound to one cell.
    {4, R"sql(
ALTER TABLE tokens ADD COLUMN id TEXT;
ALTER TABLE tokens ADD COLUMN cell TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
UPDATE tokens SET id = substr(hash, 1, 16);
CREATE UNIQUE INDEX tokens_by_id ON tokens(id);
)sql"},
    // The lifecycle API's policy types (wiretag.policies.Whitelist 1.0.0 is built in).
    {5, R"sql(
CREATE TABLE policy_types (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  derived_from TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
)sql"},
    // Who made each change (the change log's principal); '' for changes from before.
    {6, R"sql(
ALTER TABLE changes ADD COLUMN principal TEXT NOT NULL DEFAULT '';
)sql"},
    // The cells (PDPs) and their last heartbeat, shared by every server on the database
    // (core/ports/cells.h): one row per cell, its last PDP_STATUS as JSON.
    {7, R"sql(
CREATE TABLE cells (
  name TEXT PRIMARY KEY,
  report TEXT NOT NULL,
  heartbeat_interval_ms INTEGER NOT NULL,
  last_heartbeat_ms INTEGER NOT NULL
);
)sql"},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace wiretag::sqlite
