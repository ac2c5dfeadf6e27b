#include "store/pg_store.h"

#include <atomic>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "store/group_commit.h"
#include "store/logged_changes.h"
#include "store/pg_change_listener.h"
#include "store/pg_connection.h"
#include "store/pg_lifecycle.h"
#include "store/pg_migrations.h"
#include "store/pg_retention.h"
#include "store/pg_tokens.h"

namespace wiretag {
namespace {

using pg::Param;

// Advisory lock keys ("wtag" and "wtmg"): one writer at a time; one migrator at a time.
constexpr int64_t kWriteLock = 0x77746167;
constexpr int64_t kMigrationLock = 0x77746d67;

#define WT_ROWS(var, ...) WT_TRY(var, c->run(__VA_ARGS__))

// One PostgreSQL connection as a transaction's StoreTx; used by one transaction at a time.
struct PgTx : StoreTx {
  std::unique_ptr<pg::Connection> c;
  std::mutex mutex;
  int64_t appended = 0;              // the highest revision appended by the running write, or 0
  std::string principal;             // whom the running write acts for
  std::vector<ChangeRecord> logged;  // what the running write appended, logged once committed
  std::optional<PgLifecycle> lifecycle_;

  explicit PgTx(std::unique_ptr<pg::Connection> conn) : c(std::move(conn)) {}

  LifecycleTx& lifecycle() override { return lifecycle_ ? *lifecycle_ : lifecycle_.emplace(*c); }

  Result<bool> account_exists(std::string_view account) override {
    WT_ROWS(rows, "SELECT 1 FROM accounts WHERE id = $1", {account});
    return !rows->empty();
  }
  Result<void> ensure_account(std::string_view account) override {
    WT_ROWS(rows,
            "INSERT INTO accounts (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            {account, pg::now_seconds()});
    return Ok();
  }
  Result<std::vector<std::string>> list_accounts() override {
    WT_ROWS(rows, "SELECT id FROM accounts ORDER BY id");
    std::vector<std::string> out;
    for (int i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, 0));
    return out;
  }

  static AppRecord app_of(const pg::Rows& r, int i) {
    return AppRecord{r.text(i, 0), r.text(i, 1), static_cast<uint32_t>(r.i64(i, 2))};
  }
  static std::optional<AppRecord> one_app(const pg::Rows& r) {
    if (r.empty()) return std::nullopt;
    return app_of(r, 0);
  }
  Result<std::optional<AppRecord>> find_app(std::string_view guid) override {
    WT_ROWS(rows, "SELECT guid, account, tag FROM apps WHERE guid = $1", {guid});
    return one_app(*rows);
  }
  Result<std::optional<AppRecord>> find_app_by_tag(uint32_t tag) override {
    WT_ROWS(rows, "SELECT guid, account, tag FROM apps WHERE tag = $1", {int64_t{tag}});
    return one_app(*rows);
  }
  Result<std::vector<AppRecord>> list_apps(std::optional<std::string_view> account) override {
    auto rows = account ? c->run(
                              "SELECT guid, account, tag FROM apps WHERE account = $1 "
                              "ORDER BY guid",
                              {*account})
                        : c->run("SELECT guid, account, tag FROM apps ORDER BY guid");
    if (!rows) return rows.error();
    std::vector<AppRecord> out;
    for (int i = 0; i < rows->size(); ++i) out.push_back(app_of(*rows, i));
    return out;
  }
  Result<void> insert_app(const AppRecord& app) override {
    WT_ROWS(rows, "INSERT INTO apps (guid, account, tag) VALUES ($1, $2, $3)",
            {app.guid, app.account, int64_t{app.tag}});
    return Ok();
  }
  Result<void> delete_app(std::string_view guid) override {
    WT_ROWS(rows, "DELETE FROM apps WHERE guid = $1", {guid});
    return Ok();
  }

  static std::optional<TagRecord> one_tag(const pg::Rows& r) {
    if (r.empty()) return std::nullopt;
    TagRecord t{static_cast<uint32_t>(r.i64(0, 0)), std::nullopt, r.i64(0, 2)};
    if (!r.is_null(0, 1)) t.app = r.text(0, 1);
    return t;
  }
  Result<std::optional<TagRecord>> find_tag(uint32_t tag) override {
    WT_ROWS(rows, "SELECT tag, app, released_at FROM tags WHERE tag = $1", {int64_t{tag}});
    return one_tag(*rows);
  }
  Result<std::optional<TagRecord>> oldest_released_tag(int64_t released_before) override {
    WT_ROWS(rows,
            "SELECT tag, app, released_at FROM tags WHERE app IS NULL AND released_at <= $1 "
            "ORDER BY released_at, tag LIMIT 1",
            {released_before});
    return one_tag(*rows);
  }
  Result<void> put_tag(const TagRecord& t) override {
    WT_ROWS(rows,
            "INSERT INTO tags (tag, app, released_at) VALUES ($1, $2, $3) ON CONFLICT (tag) DO "
            "UPDATE SET app = excluded.app, released_at = excluded.released_at",
            {int64_t{t.tag}, pg::opt(t.app), t.released_at});
    return Ok();
  }

  static EdgeRecord edge_of(const pg::Rows& r, int i) {
    EdgeRecord e{r.text(i, 0),
                 r.text(i, 1),
                 r.text(i, 2),
                 r.text(i, 3),
                 parse_protocol(r.view(i, 4)).value_or(Protocol::Any),
                 std::nullopt};
    if (r.i64(i, 5) != 0)
      e.ports = PortRange{static_cast<uint16_t>(r.i64(i, 5)), static_cast<uint16_t>(r.i64(i, 6))};
    return e;
  }
  static std::vector<Param> edge_key(const EdgeRecord& e) {
    return {e.destination,
            e.source,
            e.policy,
            e.account,
            std::string(to_string(e.protocol)),
            int64_t{e.ports ? e.ports->start : 0},
            int64_t{e.ports ? e.ports->end : 0}};
  }
  Result<bool> insert_edge(const EdgeRecord& e) override {
    WT_ROWS(rows,
            "INSERT INTO edges (destination, source, policy, account, protocol, port_start, "
            "port_end) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            edge_key(e));
    return rows->affected() > 0;
  }
  Result<std::vector<InboundEdge>> edges_to(std::string_view destination) override {
    WT_ROWS(rows,
            "SELECT e.account, e.policy, e.source, e.destination, e.protocol, e.port_start, "
            "e.port_end, COALESCE(a.tag, 0) FROM edges e LEFT JOIN apps a ON a.guid = "
            "e.source WHERE e.destination = $1 ORDER BY e.id",
            {destination});
    std::vector<InboundEdge> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(InboundEdge{edge_of(*rows, i), static_cast<uint32_t>(rows->i64(i, 7))});
    return out;
  }
  Result<std::vector<EdgeRecord>> edges_from(std::string_view source) override {
    WT_ROWS(rows,
            "SELECT account, policy, source, destination, protocol, port_start, port_end "
            "FROM edges WHERE source = $1 ORDER BY id",
            {source});
    std::vector<EdgeRecord> out;
    for (int i = 0; i < rows->size(); ++i) out.push_back(edge_of(*rows, i));
    return out;
  }
  Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) override {
    WT_ROWS(rows,
            "SELECT account, policy, source, destination, protocol, port_start, port_end "
            "FROM edges ORDER BY id");
    const pg::Rows& r = *rows;
    for (int i = 0; i < r.size(); ++i) {
      EdgeView e{r.view(i, 0),
                 r.view(i, 1),
                 r.view(i, 2),
                 r.view(i, 3),
                 parse_protocol(r.view(i, 4)).value_or(Protocol::Any),
                 std::nullopt};
      if (r.i64(i, 5) != 0)
        e.ports = PortRange{static_cast<uint16_t>(r.i64(i, 5)), static_cast<uint16_t>(r.i64(i, 6))};
      fn(e);
    }
    return Ok();
  }
  Result<bool> delete_edge(const EdgeRecord& e) override {
    WT_ROWS(rows,
            "DELETE FROM edges WHERE destination = $1 AND source = $2 AND policy = $3 AND "
            "account = $4 AND protocol = $5 AND port_start = $6 AND port_end = $7",
            edge_key(e));
    return rows->affected() > 0;
  }
  Result<int64_t> delete_edges_of(std::string_view app) override {
    WT_ROWS(rows, "DELETE FROM edges WHERE source = $1 OR destination = $1", {app});
    return rows->affected();
  }
  Result<int64_t> count(std::string_view sql) {
    WT_ROWS(rows, sql);
    return rows->i64(0, 0);
  }
  Result<int64_t> count_edges() override { return count("SELECT COUNT(*) FROM edges"); }
  Result<int64_t> count_apps() override { return count("SELECT COUNT(*) FROM apps"); }

  Result<std::optional<std::string>> get_meta(std::string_view key) override {
    WT_ROWS(rows, "SELECT value FROM meta WHERE key = $1", {key});
    if (rows->empty()) return std::optional<std::string>{};
    return std::optional<std::string>{rows->text(0, 0)};
  }
  Result<void> set_meta(std::string_view key, std::string_view value) override {
    WT_ROWS(rows,
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
            "value = excluded.value",
            {key, value});
    return Ok();
  }

  Result<int64_t> append_change(const ChangeRecord& ch) override {
    // Under the write lock: the next revision, rolled back with the write that took it.
    WT_ROWS(next,
            "UPDATE change_sequence SET revision = revision + 1 WHERE id = 1 RETURNING revision");
    const int64_t revision = next->i64(0, 0);
    const std::string& by = ch.principal.empty() ? principal : ch.principal;
    WT_ROWS(rows,
            "INSERT INTO changes (revision, kind, account, subject, body, at, principal) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {revision, ch.kind, ch.account, ch.subject, ch.body, pg::now_seconds(), by});
    appended = revision;
    logged.push_back({revision, ch.kind, ch.account, ch.subject, "", by});
    return revision;
  }
  Result<int64_t> revision() override {
    // change_sequence keeps the highest revision even when old changes are compacted away.
    return count("SELECT revision FROM change_sequence WHERE id = 1");
  }
  Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit) override {
    WT_ROWS(rows,
            "SELECT revision, kind, account, subject, body, principal FROM changes "
            "WHERE revision > $1 ORDER BY revision LIMIT $2",
            {revision, limit});
    std::vector<ChangeRecord> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(ChangeRecord{rows->i64(i, 0), rows->text(i, 1), rows->text(i, 2),
                                 rows->text(i, 3), rows->text(i, 4), rows->text(i, 5)});
    return out;
  }
  Result<int64_t> change_horizon() override { return pg_retention::change_horizon(*c); }
  Result<int64_t> compact_changes(int64_t keep_revisions, int64_t logged_before,
                                  int64_t floor) override {
    return pg_retention::compact_changes(*c, keep_revisions, logged_before, floor);
  }

  Result<std::optional<TokenRecord>> find_token(std::string_view hash) override {
    return pg_tokens::find(*c, hash);
  }
  Result<void> insert_token(const TokenRecord& t) override { return pg_tokens::insert(*c, t); }
  Result<int64_t> count_tokens() override { return count("SELECT COUNT(*) FROM tokens"); }
  Result<std::vector<TokenRecord>> list_tokens() override { return pg_tokens::list(*c); }
  Result<bool> delete_token(std::string_view id) override { return pg_tokens::remove(*c, id); }
  Result<void> set_token_last_used(std::string_view hash, int64_t at) override {
    return pg_tokens::set_last_used(*c, hash, at);
  }

  static std::vector<PolicyRecord> policies(const pg::Rows& r) {
    std::vector<PolicyRecord> out;
    for (int i = 0; i < r.size(); ++i) {
      PolicyRecord p{r.text(i, 0), r.text(i, 1), std::nullopt,
                     r.text(i, 3), r.i64(i, 4),  r.text(i, 5)};
      if (!r.is_null(i, 2)) p.refid = r.text(i, 2);
      out.push_back(std::move(p));
    }
    return out;
  }
  Result<std::vector<PolicyRecord>> list_policies(std::string_view account) override {
    WT_ROWS(rows,
            "SELECT id, account, refid, name, version, body FROM policies WHERE account = $1 "
            "ORDER BY id",
            {account});
    return policies(*rows);
  }
  Result<std::vector<PolicyRecord>> find_policies(std::string_view account,
                                                  std::string_view id_or_refid) override {
    WT_ROWS(rows,
            "SELECT id, account, refid, name, version, body FROM policies WHERE account = $1 "
            "AND (id = $2 OR refid = $2) ORDER BY id",
            {account, id_or_refid});
    return policies(*rows);
  }
  Result<void> put_policy(const PolicyRecord& p) override {
    WT_ROWS(rows,
            "INSERT INTO policies (id, account, refid, name, version, body) VALUES ($1, $2, $3, "
            "$4, $5, $6) ON CONFLICT (id) DO UPDATE SET account = excluded.account, refid = "
            "excluded.refid, name = excluded.name, version = excluded.version, body = "
            "excluded.body",
            {p.id, p.account, pg::opt(p.refid), p.name, p.version, p.body});
    WT_ROWS(version, "INSERT INTO policy_versions (id, version, body) VALUES ($1, $2, $3)",
            {p.id, p.version, p.body});
    return Ok();
  }
  Result<void> delete_policy(std::string_view id) override {
    WT_ROWS(rows, "DELETE FROM policies WHERE id = $1", {id});
    return Ok();
  }
  Result<std::optional<PolicyRecord>> find_policy_by_id(std::string_view id) override {
    WT_ROWS(rows, "SELECT id, account, refid, name, version, body FROM policies WHERE id = $1",
            {id});
    auto found = policies(*rows);
    if (found.empty()) return std::optional<PolicyRecord>{};
    return std::optional<PolicyRecord>{std::move(found.front())};
  }
  Result<std::optional<PolicyRecord>> policy_version(std::string_view id,
                                                     int64_t version) override {
    // The body of a version carries its account and name: they outlive a deleted policy.
    WT_ROWS(rows, "SELECT id, version, body FROM policy_versions WHERE id = $1 AND version = $2",
            {id, version});
    if (rows->empty()) return std::optional<PolicyRecord>{};
    PolicyRecord p{rows->text(0, 0), "", std::nullopt, "", rows->i64(0, 1), rows->text(0, 2)};
    auto body = nlohmann::json::parse(p.body, nullptr, false);
    if (body.is_object()) {
      if (body.contains("account_id") && body["account_id"].is_string())
        p.account = body["account_id"].get<std::string>();
      if (body.contains("name") && body["name"].is_string())
        p.name = body["name"].get<std::string>();
    }
    return std::optional<PolicyRecord>{std::move(p)};
  }

  Result<std::vector<PdpGroupRecord>> pdp_groups(std::optional<std::string_view> name) {
    auto rows = name ? c->run(
                           "SELECT name, description, state, properties FROM pdp_groups "
                           "WHERE name = $1",
                           {*name})
                     : c->run(
                           "SELECT name, description, state, properties FROM pdp_groups "
                           "ORDER BY name");
    if (!rows) return rows.error();
    std::vector<PdpGroupRecord> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(PdpGroupRecord{
          rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), rows->text(i, 3), {}});
    for (PdpGroupRecord& g : out) {
      WT_ROWS(subs,
              "SELECT pdp_type, desired_instances, supported_types, properties FROM "
              "pdp_subgroups WHERE grp = $1 ORDER BY pdp_type",
              {g.name});
      for (int i = 0; i < subs->size(); ++i)
        g.subgroups.push_back(PdpSubgroupRecord{subs->text(i, 0), subs->i64(i, 1), subs->text(i, 2),
                                                subs->text(i, 3)});
    }
    return out;
  }
  Result<std::vector<PdpGroupRecord>> list_pdp_groups() override { return pdp_groups({}); }
  Result<std::optional<PdpGroupRecord>> find_pdp_group(std::string_view name) override {
    auto found = pdp_groups(name);
    if (!found) return found.error();
    if (found->empty()) return std::optional<PdpGroupRecord>{};
    return std::optional<PdpGroupRecord>{std::move(found->front())};
  }
  Result<void> put_pdp_group(const PdpGroupRecord& g) override {
    WT_ROWS(group,
            "INSERT INTO pdp_groups (name, description, state, properties) VALUES ($1, $2, $3, "
            "$4) ON CONFLICT (name) DO UPDATE SET description = excluded.description, state = "
            "excluded.state, properties = excluded.properties",
            {g.name, g.description, g.state, g.properties});
    WT_ROWS(cleared, "DELETE FROM pdp_subgroups WHERE grp = $1", {g.name});
    for (const PdpSubgroupRecord& sub : g.subgroups) {
      WT_ROWS(rows,
              "INSERT INTO pdp_subgroups (grp, pdp_type, desired_instances, supported_types, "
              "properties) VALUES ($1, $2, $3, $4, $5)",
              {g.name, sub.pdp_type, sub.desired_instances, sub.supported_types, sub.properties});
    }
    // What was deployed to a subgroup that is gone goes with it.
    WT_ROWS(gone,
            "DELETE FROM pdp_deployments WHERE grp = $1 AND pdp_type NOT IN (SELECT pdp_type "
            "FROM pdp_subgroups WHERE grp = $1)",
            {g.name});
    return Ok();
  }
  Result<void> delete_pdp_group(std::string_view name) override {
    for (const char* sql :
         {"DELETE FROM pdp_deployments WHERE grp = $1", "DELETE FROM pdp_subgroups WHERE grp = $1",
          "DELETE FROM pdp_groups WHERE name = $1"}) {
      WT_ROWS(rows, sql, {name});
    }
    return Ok();
  }
  Result<std::vector<DeploymentRecord>> list_deployments() override {
    WT_ROWS(rows,
            "SELECT grp, pdp_type, policy, version, deployed_at_ms FROM pdp_deployments "
            "ORDER BY grp, pdp_type, policy");
    std::vector<DeploymentRecord> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(DeploymentRecord{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2),
                                     rows->text(i, 3), rows->i64(i, 4)});
    return out;
  }
  Result<void> put_deployment(const DeploymentRecord& d) override {
    WT_ROWS(rows,
            "INSERT INTO pdp_deployments (grp, pdp_type, policy, version, deployed_at_ms) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (grp, pdp_type, policy) DO UPDATE SET "
            "version = excluded.version, deployed_at_ms = excluded.deployed_at_ms",
            {d.group, d.pdp_type, d.policy, d.version, d.deployed_at_ms});
    return Ok();
  }
  Result<bool> delete_deployment(std::string_view group, std::string_view pdp_type,
                                 std::string_view policy) override {
    WT_ROWS(rows, "DELETE FROM pdp_deployments WHERE grp = $1 AND pdp_type = $2 AND policy = $3",
            {group, pdp_type, policy});
    return rows->affected() > 0;
  }
  Result<int64_t> append_pap_audit(const PapAuditRecord& a) override {
    WT_ROWS(rows,
            "INSERT INTO pap_audit (grp, pdp_type, policy, version, action, detail, \"user\", "
            "at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            {a.group, a.pdp_type, a.policy, a.version, a.action, a.detail, a.user, a.at_ms});
    return rows->i64(0, 0);
  }
  Result<std::vector<PapAuditRecord>> pap_audit(const PapAuditQuery& q) override {
    // NULL parameters leave their filter out; one statement for every combination.
    WT_ROWS(rows,
            "SELECT id, grp, pdp_type, policy, version, action, detail, \"user\", at_ms FROM "
            "pap_audit WHERE ($1::text IS NULL OR grp = $1::text) AND ($2::text IS NULL OR "
            "policy = $2::text) AND ($3::text IS NULL OR version = $3::text) AND ($4::bigint IS "
            "NULL OR at_ms >= $4::bigint) AND ($5::bigint IS NULL OR at_ms <= $5::bigint) "
            "ORDER BY id DESC LIMIT $6",
            {pg::opt(q.group), pg::opt(q.policy), pg::opt(q.version), pg::opt(q.from_ms),
             pg::opt(q.to_ms), q.limit});
    std::vector<PapAuditRecord> out;
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(PapAuditRecord{rows->i64(i, 0), rows->text(i, 1), rows->text(i, 2),
                                   rows->text(i, 3), rows->text(i, 4), rows->text(i, 5),
                                   rows->text(i, 6), rows->text(i, 7), rows->i64(i, 8)});
    return out;
  }
  Result<int64_t> count_pap_audit(std::string_view action) override {
    WT_ROWS(rows, "SELECT COUNT(*) FROM pap_audit WHERE action = $1", {action});
    return rows->i64(0, 0);
  }
  Result<int64_t> prune_pap_audit(int64_t keep_records, int64_t before_ms) override {
    return pg_retention::prune_pap_audit(*c, keep_records, before_ms);
  }

  Result<void> migrate() {
    WT_ROWS(locked, "SELECT pg_advisory_lock($1)", {kMigrationLock});
    auto r = migrate_locked();
    (void)c->run("SELECT pg_advisory_unlock($1)", {kMigrationLock});
    return r;
  }
  Result<void> migrate_locked() {
    if (auto r = c->exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY "
                         "KEY, applied_at BIGINT NOT NULL)");
        !r)
      return r;
    for (const pg::Migration& m : pg::migrations()) {
      if (auto r = c->exec("BEGIN"); !r) return r;
      auto r = [&]() -> Result<void> {
        WT_ROWS(applied, "SELECT 1 FROM schema_migrations WHERE version = $1", {m.version});
        if (!applied->empty()) return Ok();
        if (auto e = c->exec(m.sql); !e) return e;
        WT_ROWS(noted, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                {m.version, pg::now_seconds()});
        return Ok();
      }();
      if (!r) {
        (void)c->exec("ROLLBACK");
        return Error{r.error().code,
                     "migration " + std::to_string(m.version) + ": " + r.error().message};
      }
      if (auto e = c->exec("COMMIT"); !e) return e;
    }
    return Ok();
  }
};

#undef WT_ROWS

}  // namespace

// One writer connection, used only by the committer thread, and a few readers.
struct PgStore::Impl {
  std::string url;
  std::unique_ptr<PgTx> writer;
  std::vector<std::unique_ptr<PgTx>> readers;
  std::atomic<size_t> next_reader{0};
  std::unique_ptr<GroupCommit> commits;
  std::unique_ptr<PgChangeListener> listener;  // once following other servers

  // Commits the batch in one transaction, each write in its own savepoint: a failing write
  // rolls back alone and gets its own error. When the transaction itself is lost (the
  // connection broke), nothing of it committed: every write of the batch gets the error.
  // Returns the highest revision committed, or 0.
  int64_t commit_batch(const std::vector<GroupCommit::QueuedWrite>& batch,
                       GroupCommit::Outcomes& out);
};

int64_t PgStore::Impl::commit_batch(const std::vector<GroupCommit::QueuedWrite>& batch,
                                    GroupCommit::Outcomes& out) {
  PgTx& tx = *writer;
  pg::Connection& c = *tx.c;
  std::lock_guard lock(tx.mutex);
  out.assign(batch.size(), Ok());
  auto fail_all = [&](Result<void> r) {
    out.assign(batch.size(), r);
    if (c.in_transaction()) (void)c.exec("ROLLBACK");
    return int64_t{0};
  };
  if (!c.ensure_connected())
    return fail_all(Error{"STORE_ERROR",
                          "postgresql: connection lost: " + std::string(PQerrorMessage(c.raw()))});
  if (auto r = c.exec("BEGIN"); !r) return fail_all(r);
  // The write transactions of every server on this database, one at a time.
  if (auto r = c.run("SELECT pg_advisory_xact_lock($1)", {kWriteLock}); !r)
    return fail_all(r.error());
  std::vector<bool> written(batch.size(), false);
  std::vector<ChangeRecord> changes;  // what the written writes appended
  int64_t appended = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (auto r = c.exec("SAVEPOINT w"); !r) return fail_all(r);
    tx.appended = 0;
    tx.principal = batch[i].principal;
    tx.logged.clear();
    Result<void> r = batch[i].run(tx);
    if (r) r = c.exec("RELEASE SAVEPOINT w");
    if (r) {
      written[i] = true;
      std::move(tx.logged.begin(), tx.logged.end(), std::back_inserter(changes));
      appended = std::max(appended, tx.appended);
      continue;
    }
    out[i] = r;
    if (auto back = c.exec("ROLLBACK TO SAVEPOINT w"); !back) return fail_all(back);
    if (auto rel = c.exec("RELEASE SAVEPOINT w"); !rel) return fail_all(rel);
  }
  // Every server's listener hears the revision once this commits (pg_change_listener).
  if (appended > 0)
    if (auto r = c.run("SELECT pg_notify($1, $2)",
                       {PgChangeListener::kChannel, std::to_string(appended)});
        !r)
      return fail_all(r.error());
  auto commit = pg::Rows(PQexec(c.raw(), "COMMIT"));
  // A COMMIT of a failed transaction answers "ROLLBACK".
  if (PQresultStatus(commit.raw()) != PGRES_COMMAND_OK ||
      std::string_view(PQcmdStatus(const_cast<PGresult*>(commit.raw()))) != "COMMIT") {
    std::string msg = PQresultErrorMessage(commit.raw());
    if (msg.empty()) msg = PQerrorMessage(c.raw());
    Result<void> failed = Error{"STORE_ERROR", "postgresql: commit: " + msg};
    for (size_t i = 0; i < batch.size(); ++i)
      if (written[i]) out[i] = failed;
    if (c.in_transaction()) (void)c.exec("ROLLBACK");
    return 0;
  }
  for (const ChangeRecord& change : changes) log_committed(change);
  return appended;
}

PgStore::PgStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->commits = std::make_unique<GroupCommit>(
      [this](const auto& batch, auto& out) { return impl_->commit_batch(batch, out); },
      [this](int64_t revision) { committed(revision); });
}

PgStore::~PgStore() {
  impl_->listener.reset();
  impl_->commits.reset();
}

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& url) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  auto writer = pg::Connection::open(url);
  if (!writer) return writer.error();
  impl->writer = std::make_unique<PgTx>(std::move(*writer));
  if (auto r = impl->writer->migrate(); !r) return r.error();
  for (int i = 0; i < 4; ++i) {
    auto reader = pg::Connection::open(url);
    if (!reader) return reader.error();
    impl->readers.push_back(std::make_unique<PgTx>(std::move(*reader)));
  }
  return std::unique_ptr<PgStore>(new PgStore(std::move(impl)));
}

void PgStore::transact_async(WriteFn fn, WriteDone done) {
  impl_->commits->queue(std::move(fn), std::move(done));
}

Result<void> PgStore::transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) {
  if (write) return impl_->commits->run(fn);
  PgTx& tx = *impl_->readers[impl_->next_reader++ % impl_->readers.size()];
  std::lock_guard lock(tx.mutex);
  if (!tx.c->ensure_connected())
    return Error{"STORE_ERROR",
                 "postgresql: connection lost: " + std::string(PQerrorMessage(tx.c->raw()))};
  if (auto r = tx.c->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r;
  Result<void> r = fn(tx);
  (void)tx.c->exec("ROLLBACK");
  return r;
}

void PgStore::follow_other_servers() {
  if (impl_->listener) return;
  impl_->listener = std::make_unique<PgChangeListener>(
      impl_->url, [this](int64_t revision) { committed(revision); });
}

Result<int64_t> PgStore::schema_version() {
  std::lock_guard lock(impl_->writer->mutex);
  return impl_->writer->count("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
}

}  // namespace wiretag
