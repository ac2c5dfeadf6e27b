#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/private_files.h"
#include "store/group_commit.h"
#include "store/logged_changes.h"
#include "store/retention.h"
#include "store/sqlite_lifecycle.h"
#include "store/sqlite_migrations.h"
#include "store/sqlite_statement.h"
#include "store/sqlite_tokens.h"

namespace wiretag {
namespace {

using sqlite::join;
using sqlite::now_seconds;
using sqlite::split;
using sqlite::sqlite_error;
using sqlite::Statements;
using sqlite::Stmt;

// One SQLite connection with its prepared statements; used by one transaction at a time.
struct Connection : StoreTx {
  sqlite3* db = nullptr;
  std::mutex mutex;
  int64_t appended = 0;  // the highest revision appended by the open transaction, or 0
  std::string principal;             // whom the running write acts for (its changes record it)
  std::vector<ChangeRecord> logged;  // what the running write appended, logged once committed
  std::map<std::string, sqlite3_stmt*, std::less<>> cache;

  ~Connection() override {
    for (auto& [sql, s] : cache) sqlite3_finalize(s);
    if (db) sqlite3_close(db);
  }

  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      return Error{"STORE_ERROR", std::string("sqlite: ") + msg};
    }
    return Ok();
  }

  Result<Stmt> prepare(std::string_view sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr) !=
          SQLITE_OK)
        return sqlite_error(db, "prepare");
      it = cache.emplace(std::string(sql), s).first;
    }
    return Stmt(db, it->second);
  }

  // What code outside this file (sqlite_tokens, sqlite_lifecycle) prepares its statements with.
  Statements statements() {
    return {db, [this](std::string_view sql) { return prepare(sql); }};
  }
  std::optional<SqliteLifecycle> lifecycle_;  // made at first use, once db is open
  LifecycleTx& lifecycle() override {
    return lifecycle_ ? *lifecycle_ : lifecycle_.emplace(statements());
  }

#define WT_TRY_STMT(var, sql)           \
  auto var##_r = prepare(sql);          \
  if (!var##_r) return var##_r.error(); \
  Stmt& var = var##_r.value()

  Result<bool> account_exists(std::string_view account) override {
    WT_TRY_STMT(s, "SELECT 1 FROM accounts WHERE id = ?");
    return s.bind(account).step();
  }
  Result<void> ensure_account(std::string_view account) override {
    WT_TRY_STMT(s, "INSERT OR IGNORE INTO accounts (id, created_at) VALUES (?, ?)");
    return s.bind(account).bind(now_seconds()).exec();
  }
  Result<std::vector<std::string>> list_accounts() override {
    WT_TRY_STMT(s, "SELECT id FROM accounts ORDER BY id");
    std::vector<std::string> out;
    for (;;) {
      WT_TRY(row, s.step());
      if (!*row) return out;
      out.push_back(s.text(0));
    }
  }

  Result<std::optional<AppRecord>> one_app(Stmt& s) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<AppRecord>{};
    return std::optional<AppRecord>{
        AppRecord{s.text(0), s.text(1), static_cast<uint32_t>(s.i64(2))}};
  }
  Result<std::optional<AppRecord>> find_app(std::string_view guid) override {
    WT_TRY_STMT(s, "SELECT guid, account, tag FROM apps WHERE guid = ?");
    s.bind(guid);
    return one_app(s);
  }
  Result<std::optional<AppRecord>> find_app_by_tag(uint32_t tag) override {
    WT_TRY_STMT(s, "SELECT guid, account, tag FROM apps WHERE tag = ?");
    s.bind(int64_t{tag});
    return one_app(s);
  }
  Result<std::vector<AppRecord>> list_apps(std::optional<std::string_view> account) override {
    WT_TRY_STMT(s, account ? "SELECT guid, account, tag FROM apps WHERE account = ? ORDER BY guid"
                           : "SELECT guid, account, tag FROM apps ORDER BY guid");
    if (account) s.bind(*account);
    std::vector<AppRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(AppRecord{s.text(0), s.text(1), static_cast<uint32_t>(s.i64(2))});
    }
    return out;
  }
  Result<void> insert_app(const AppRecord& app) override {
    WT_TRY_STMT(s, "INSERT INTO apps (guid, account, tag) VALUES (?, ?, ?)");
    return s.bind(app.guid).bind(app.account).bind(int64_t{app.tag}).exec();
  }
  Result<void> delete_app(std::string_view guid) override {
    WT_TRY_STMT(s, "DELETE FROM apps WHERE guid = ?");
    return s.bind(guid).exec();
  }

  Result<std::optional<TagRecord>> one_tag(Stmt& s) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<TagRecord>{};
    TagRecord t{static_cast<uint32_t>(s.i64(0)), std::nullopt, s.i64(2)};
    if (!s.is_null(1)) t.app = s.text(1);
    return std::optional<TagRecord>{t};
  }
  Result<std::optional<TagRecord>> find_tag(uint32_t tag) override {
    WT_TRY_STMT(s, "SELECT tag, app, released_at FROM tags WHERE tag = ?");
    s.bind(int64_t{tag});
    return one_tag(s);
  }
  Result<std::optional<TagRecord>> oldest_released_tag(int64_t released_before) override {
    WT_TRY_STMT(s,
                "SELECT tag, app, released_at FROM tags WHERE app IS NULL AND released_at <= ? "
                "ORDER BY released_at, tag LIMIT 1");
    s.bind(released_before);
    return one_tag(s);
  }
  Result<void> put_tag(const TagRecord& t) override {
    WT_TRY_STMT(s, "INSERT OR REPLACE INTO tags (tag, app, released_at) VALUES (?, ?, ?)");
    s.bind(int64_t{t.tag});
    if (t.app)
      s.bind(*t.app);
    else
      s.bind_null();
    return s.bind(t.released_at).exec();
  }

  Result<bool> insert_edge(const EdgeRecord& e) override {
    WT_TRY_STMT(s,
                "INSERT OR IGNORE INTO edges (account, policy, source, destination, protocol, "
                "port_start, port_end) VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.bind(e.account).bind(e.policy).bind(e.source).bind(e.destination).bind(to_string(e.protocol));
    s.bind(int64_t{e.ports ? e.ports->start : 0}).bind(int64_t{e.ports ? e.ports->end : 0});
    if (auto r = s.exec(); !r) return r.error();
    return sqlite3_changes(db) > 0;
  }
  Result<std::vector<InboundEdge>> edges_to(std::string_view destination) override {
    WT_TRY_STMT(s,
                "SELECT e.account, e.policy, e.source, e.destination, e.protocol, e.port_start, "
                "e.port_end, COALESCE(a.tag, 0) FROM edges e LEFT JOIN apps a ON a.guid = "
                "e.source WHERE e.destination = ? ORDER BY e.id");
    s.bind(destination);
    std::vector<InboundEdge> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      InboundEdge in;
      in.edge.account = s.text(0);
      in.edge.policy = s.text(1);
      in.edge.source = s.text(2);
      in.edge.destination = s.text(3);
      in.edge.protocol = parse_protocol(s.text(4)).value_or(Protocol::Any);
      if (s.i64(5) != 0)
        in.edge.ports = PortRange{static_cast<uint16_t>(s.i64(5)), static_cast<uint16_t>(s.i64(6))};
      in.source_tag = static_cast<uint32_t>(s.i64(7));
      out.push_back(std::move(in));
    }
    return out;
  }
  Result<std::vector<EdgeRecord>> edges_from(std::string_view source) override {
    WT_TRY_STMT(s,
                "SELECT account, policy, source, destination, protocol, port_start, port_end "
                "FROM edges WHERE source = ? ORDER BY id");
    s.bind(source);
    std::vector<EdgeRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      EdgeRecord e{s.text(0),
                   s.text(1),
                   s.text(2),
                   s.text(3),
                   parse_protocol(s.text(4)).value_or(Protocol::Any),
                   std::nullopt};
      if (s.i64(5) != 0)
        e.ports = PortRange{static_cast<uint16_t>(s.i64(5)), static_cast<uint16_t>(s.i64(6))};
      out.push_back(std::move(e));
    }
    return out;
  }
  Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) override {
    WT_TRY_STMT(s,
                "SELECT account, policy, source, destination, protocol, port_start, port_end "
                "FROM edges ORDER BY id");
    auto view = [&](int i) {
      auto p = sqlite3_column_text(s.raw(), i);
      return p ? std::string_view(reinterpret_cast<const char*>(p),
                                  static_cast<size_t>(sqlite3_column_bytes(s.raw(), i)))
               : std::string_view();
    };
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      EdgeView e{
          view(0),     view(1), view(2), view(3), parse_protocol(view(4)).value_or(Protocol::Any),
          std::nullopt};
      if (s.i64(5) != 0)
        e.ports = PortRange{static_cast<uint16_t>(s.i64(5)), static_cast<uint16_t>(s.i64(6))};
      fn(e);
    }
    return Ok();
  }
  Result<bool> delete_edge(const EdgeRecord& e) override {
    WT_TRY_STMT(s,
                "DELETE FROM edges WHERE destination = ? AND source = ? AND policy = ? AND "
                "account = ? AND protocol = ? AND port_start = ? AND port_end = ?");
    s.bind(e.destination).bind(e.source).bind(e.policy).bind(e.account).bind(to_string(e.protocol));
    s.bind(int64_t{e.ports ? e.ports->start : 0}).bind(int64_t{e.ports ? e.ports->end : 0});
    if (auto r = s.exec(); !r) return r.error();
    return sqlite3_changes(db) > 0;
  }
  Result<int64_t> delete_edges_of(std::string_view app) override {
    WT_TRY_STMT(s, "DELETE FROM edges WHERE source = ? OR destination = ?");
    if (auto r = s.bind(app).bind(app).exec(); !r) return r.error();
    return int64_t{sqlite3_changes(db)};
  }
  Result<int64_t> count(std::string_view sql) {
    WT_TRY_STMT(s, sql);
    auto row = s.step();
    if (!row) return row.error();
    return s.i64(0);
  }
  Result<int64_t> count_edges() override { return count("SELECT COUNT(*) FROM edges"); }
  Result<int64_t> count_apps() override { return count("SELECT COUNT(*) FROM apps"); }

  Result<std::optional<std::string>> get_meta(std::string_view key) override {
    WT_TRY_STMT(s, "SELECT value FROM meta WHERE key = ?");
    auto row = s.bind(key).step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>{};
    return std::optional<std::string>{s.text(0)};
  }
  Result<void> set_meta(std::string_view key, std::string_view value) override {
    WT_TRY_STMT(s, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    return s.bind(key).bind(value).exec();
  }

  Result<int64_t> append_change(const ChangeRecord& c) override {
    WT_TRY_STMT(s,
                "INSERT INTO changes (kind, account, subject, body, at, principal) "
                "VALUES (?, ?, ?, ?, ?, ?)");
    if (auto r = s.bind(c.kind)
                     .bind(c.account)
                     .bind(c.subject)
                     .bind(c.body)
                     .bind(now_seconds())
                     .bind(c.principal.empty() ? principal : c.principal)
                     .exec();
        !r)
      return r.error();
    appended = int64_t{sqlite3_last_insert_rowid(db)};
    logged.push_back({appended, c.kind, c.account, c.subject, "",
                      c.principal.empty() ? principal : c.principal});
    return appended;
  }
  Result<int64_t> revision() override {
    // sqlite_sequence keeps the highest revision even if old changes are pruned.
    return count("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)");
  }
  Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit) override {
    WT_TRY_STMT(s,
                "SELECT revision, kind, account, subject, body, principal FROM changes "
                "WHERE revision > ? ORDER BY revision LIMIT ?");
    s.bind(revision).bind(limit);
    std::vector<ChangeRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(ChangeRecord{s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    }
    return out;
  }

  Result<int64_t> change_horizon() override { return sqlite_retention::change_horizon(db); }
  Result<int64_t> compact_changes(int64_t keep_revisions, int64_t logged_before,
                                  int64_t floor) override {
    return sqlite_retention::compact_changes(db, keep_revisions, logged_before, floor);
  }

  Result<std::optional<TokenRecord>> find_token(std::string_view hash) override {
    return sqlite_tokens::find(statements(), hash);
  }
  Result<void> insert_token(const TokenRecord& t) override {
    return sqlite_tokens::insert(statements(), t);
  }
  Result<int64_t> count_tokens() override { return count("SELECT COUNT(*) FROM tokens"); }
  Result<std::vector<TokenRecord>> list_tokens() override {
    return sqlite_tokens::list(statements());
  }
  Result<bool> delete_token(std::string_view id) override {
    return sqlite_tokens::remove(statements(), id);
  }
  Result<void> set_token_last_used(std::string_view hash, int64_t at) override {
    return sqlite_tokens::set_last_used(statements(), hash, at);
  }

  Result<std::vector<PolicyRecord>> policies(Stmt& s) {
    std::vector<PolicyRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      PolicyRecord p{s.text(0), s.text(1), std::nullopt, s.text(3), s.i64(4), s.text(5)};
      if (!s.is_null(2)) p.refid = s.text(2);
      out.push_back(std::move(p));
    }
    return out;
  }
  Result<std::vector<PolicyRecord>> list_policies(std::string_view account) override {
    WT_TRY_STMT(s,
                "SELECT id, account, refid, name, version, body FROM policies WHERE account = ? "
                "ORDER BY id");
    s.bind(account);
    return policies(s);
  }
  Result<std::vector<PolicyRecord>> find_policies(std::string_view account,
                                                  std::string_view id_or_refid) override {
    WT_TRY_STMT(s,
                "SELECT id, account, refid, name, version, body FROM policies WHERE account = ? "
                "AND (id = ? OR refid = ?) ORDER BY id");
    s.bind(account).bind(id_or_refid).bind(id_or_refid);
    return policies(s);
  }
  Result<void> put_policy(const PolicyRecord& p) override {
    {
      WT_TRY_STMT(s,
                  "INSERT OR REPLACE INTO policies (id, account, refid, name, version, body) "
                  "VALUES (?, ?, ?, ?, ?, ?)");
      s.bind(p.id).bind(p.account);
      if (p.refid)
        s.bind(*p.refid);
      else
        s.bind_null();
      if (auto r = s.bind(p.name).bind(p.version).bind(p.body).exec(); !r) return r;
    }
    WT_TRY_STMT(v, "INSERT INTO policy_versions (id, version, body) VALUES (?, ?, ?)");
    return v.bind(p.id).bind(p.version).bind(p.body).exec();
  }
  Result<void> delete_policy(std::string_view id) override {
    WT_TRY_STMT(s, "DELETE FROM policies WHERE id = ?");
    return s.bind(id).exec();
  }
  Result<std::optional<PolicyRecord>> find_policy_by_id(std::string_view id) override {
    WT_TRY_STMT(s, "SELECT id, account, refid, name, version, body FROM policies WHERE id = ?");
    s.bind(id);
    auto found = policies(s);
    if (!found) return found.error();
    if (found->empty()) return std::optional<PolicyRecord>{};
    return std::optional<PolicyRecord>{std::move(found->front())};
  }
  Result<std::optional<PolicyRecord>> policy_version(std::string_view id,
                                                     int64_t version) override {
    // The body of a version carries its account and name: they outlive a deleted policy.
    WT_TRY_STMT(s, "SELECT id, version, body FROM policy_versions WHERE id = ? AND version = ?");
    auto row = s.bind(id).bind(version).step();
    if (!row) return row.error();
    if (!*row) return std::optional<PolicyRecord>{};
    PolicyRecord p{s.text(0), "", std::nullopt, "", s.i64(1), s.text(2)};
    auto body = nlohmann::json::parse(p.body, nullptr, false);
    if (body.is_object()) {
      if (body.contains("account_id") && body["account_id"].is_string())
        p.account = body["account_id"].get<std::string>();
      if (body.contains("name") && body["name"].is_string())
        p.name = body["name"].get<std::string>();
    }
    return std::optional<PolicyRecord>{std::move(p)};
  }

  Result<std::vector<PdpSubgroupRecord>> pdp_subgroups(std::string_view group) {
    WT_TRY_STMT(s,
                "SELECT pdp_type, desired_instances, supported_types, properties FROM "
                "pdp_subgroups WHERE grp = ? ORDER BY pdp_type");
    s.bind(group);
    std::vector<PdpSubgroupRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(PdpSubgroupRecord{s.text(0), s.i64(1), s.text(2), s.text(3)});
    }
    return out;
  }
  Result<std::vector<PdpGroupRecord>> pdp_groups(std::optional<std::string_view> name) {
    std::vector<PdpGroupRecord> out;
    {
      WT_TRY_STMT(s, name ? "SELECT name, description, state, properties FROM pdp_groups WHERE "
                            "name = ?"
                          : "SELECT name, description, state, properties FROM pdp_groups ORDER "
                            "BY name");
      if (name) s.bind(*name);
      for (;;) {
        auto row = s.step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(PdpGroupRecord{s.text(0), s.text(1), s.text(2), s.text(3), {}});
      }
    }
    for (PdpGroupRecord& g : out) {
      auto subgroups = pdp_subgroups(g.name);
      if (!subgroups) return subgroups.error();
      g.subgroups = std::move(*subgroups);
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
    {
      WT_TRY_STMT(s,
                  "INSERT OR REPLACE INTO pdp_groups (name, description, state, properties) "
                  "VALUES (?, ?, ?, ?)");
      if (auto r = s.bind(g.name).bind(g.description).bind(g.state).bind(g.properties).exec(); !r)
        return r;
    }
    {
      WT_TRY_STMT(s, "DELETE FROM pdp_subgroups WHERE grp = ?");
      if (auto r = s.bind(g.name).exec(); !r) return r;
    }
    for (const PdpSubgroupRecord& sub : g.subgroups) {
      WT_TRY_STMT(s,
                  "INSERT INTO pdp_subgroups (grp, pdp_type, desired_instances, supported_types, "
                  "properties) VALUES (?, ?, ?, ?, ?)");
      if (auto r = s.bind(g.name)
                       .bind(sub.pdp_type)
                       .bind(sub.desired_instances)
                       .bind(sub.supported_types)
                       .bind(sub.properties)
                       .exec();
          !r)
        return r;
    }
    // What was deployed to a subgroup that is gone goes with it.
    WT_TRY_STMT(s,
                "DELETE FROM pdp_deployments WHERE grp = ? AND pdp_type NOT IN (SELECT pdp_type "
                "FROM pdp_subgroups WHERE grp = ?)");
    return s.bind(g.name).bind(g.name).exec();
  }
  Result<void> delete_pdp_group(std::string_view name) override {
    for (const char* sql :
         {"DELETE FROM pdp_deployments WHERE grp = ?", "DELETE FROM pdp_subgroups WHERE grp = ?",
          "DELETE FROM pdp_groups WHERE name = ?"}) {
      WT_TRY_STMT(s, sql);
      if (auto r = s.bind(name).exec(); !r) return r;
    }
    return Ok();
  }
  Result<std::vector<DeploymentRecord>> list_deployments() override {
    WT_TRY_STMT(s,
                "SELECT grp, pdp_type, policy, version, deployed_at_ms FROM pdp_deployments "
                "ORDER BY grp, pdp_type, policy");
    std::vector<DeploymentRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(DeploymentRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.i64(4)});
    }
    return out;
  }
  Result<void> put_deployment(const DeploymentRecord& d) override {
    WT_TRY_STMT(s,
                "INSERT OR REPLACE INTO pdp_deployments (grp, pdp_type, policy, version, "
                "deployed_at_ms) VALUES (?, ?, ?, ?, ?)");
    return s.bind(d.group)
        .bind(d.pdp_type)
        .bind(d.policy)
        .bind(d.version)
        .bind(d.deployed_at_ms)
        .exec();
  }
  Result<bool> delete_deployment(std::string_view group, std::string_view pdp_type,
                                 std::string_view policy) override {
    WT_TRY_STMT(s, "DELETE FROM pdp_deployments WHERE grp = ? AND pdp_type = ? AND policy = ?");
    if (auto r = s.bind(group).bind(pdp_type).bind(policy).exec(); !r) return r.error();
    return sqlite3_changes(db) > 0;
  }
  Result<int64_t> append_pap_audit(const PapAuditRecord& a) override {
    WT_TRY_STMT(s,
                "INSERT INTO pap_audit (grp, pdp_type, policy, version, action, detail, user, "
                "at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (auto r = s.bind(a.group)
                     .bind(a.pdp_type)
                     .bind(a.policy)
                     .bind(a.version)
                     .bind(a.action)
                     .bind(a.detail)
                     .bind(a.user)
                     .bind(a.at_ms)
                     .exec();
        !r)
      return r.error();
    return int64_t{sqlite3_last_insert_rowid(db)};
  }
  Result<std::vector<PapAuditRecord>> pap_audit(const PapAuditQuery& q) override {
    // NULL parameters leave their filter out; one statement for every combination.
    WT_TRY_STMT(s,
                "SELECT id, grp, pdp_type, policy, version, action, detail, user, at_ms FROM "
                "pap_audit WHERE (?1 IS NULL OR grp = ?1) AND (?2 IS NULL OR policy = ?2) AND "
                "(?3 IS NULL OR version = ?3) AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR "
                "at_ms <= ?5) ORDER BY id DESC LIMIT ?6");
    for (const auto& v : {q.group, q.policy, q.version}) {
      if (v)
        s.bind(*v);
      else
        s.bind_null();
    }
    for (const auto& v : {q.from_ms, q.to_ms}) {
      if (v)
        s.bind(*v);
      else
        s.bind_null();
    }
    s.bind(q.limit);
    std::vector<PapAuditRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(PapAuditRecord{s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5),
                                   s.text(6), s.text(7), s.i64(8)});
    }
    return out;
  }
  Result<int64_t> count_pap_audit(std::string_view action) override {
    WT_TRY_STMT(s, "SELECT COUNT(*) FROM pap_audit WHERE action = ?");
    auto row = s.bind(action).step();
    if (!row) return row.error();
    return s.i64(0);
  }
  Result<int64_t> prune_pap_audit(int64_t keep_records, int64_t before_ms) override {
    return sqlite_retention::prune_pap_audit(db, keep_records, before_ms);
  }
#undef WT_TRY_STMT

  Result<void> migrate() {
    if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "applied_at INTEGER NOT NULL)");
        !r)
      return r;
    for (const sqlite::Migration& m : sqlite::migrations()) {
      if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
      auto applied = [&]() -> Result<bool> {
        auto s = prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
        if (!s) return s.error();
        return s->bind(m.version).step();
      }();
      Result<void> r = applied ? Ok() : Result<void>(applied.error());
      if (r && !*applied) {
        r = exec(m.sql);
        if (r) {
          auto s = prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
          r = s ? s->bind(m.version).bind(now_seconds()).exec() : Result<void>(s.error());
        }
      }
      if (!r) {
        (void)exec("ROLLBACK");
        return Error{r.error().code,
                     "migration " + std::to_string(m.version) + ": " + r.error().message};
      }
      if (auto c = exec("COMMIT"); !c) return c;
    }
    return Ok();
  }
};

Result<std::unique_ptr<Connection>> connect(const std::string& file, bool reader) {
  auto c = std::make_unique<Connection>();
  if (sqlite3_open_v2(file.c_str(), &c->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    return sqlite_error(c->db, "open " + file);
  sqlite3_busy_timeout(c->db, 5000);
  // synchronous=FULL: a COMMIT returns only after the WAL is fsynced.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto r = c->exec(pragma); !r) return r.error();
  }
  if (reader)
    if (auto r = c->exec("PRAGMA query_only=1"); !r) return r.error();
  return c;
}

}  // namespace

// One writer connection (SQLite allows one writer at a time anyway), used only by the
// committer thread, and a few readers, which WAL lets read a consistent snapshot while a
// write commits.
struct SqliteStore::Impl {
  std::unique_ptr<Connection> writer;
  std::vector<std::unique_ptr<Connection>> readers;
  std::atomic<size_t> next_reader{0};
  std::unique_ptr<GroupCommit> commits;  // its committer thread alone uses the writer

  // Commits the batch in one transaction, each write in its own savepoint: a failing write
  // rolls back alone and gets its own error. Writes not run (the transaction was lost under
  // them) get no outcome: they run again. Returns the highest revision committed, or 0.
  int64_t commit_batch(const std::vector<GroupCommit::QueuedWrite>& batch,
                       GroupCommit::Outcomes& out);
};

namespace {

Result<void> exec_cached(Connection& c, std::string_view sql) {
  auto s = c.prepare(sql);
  if (!s) return s.error();
  return s->exec();
}

}  // namespace

int64_t SqliteStore::Impl::commit_batch(const std::vector<GroupCommit::QueuedWrite>& batch,
                                        GroupCommit::Outcomes& out) {
  Connection& c = *writer;
  std::lock_guard lock(c.mutex);
  out.assign(batch.size(), Ok());
  if (auto r = exec_cached(c, "BEGIN IMMEDIATE"); !r) {
    out.assign(batch.size(), r);
    return 0;
  }
  std::vector<bool> written(batch.size(), false);
  std::vector<ChangeRecord> changes;  // what the written writes appended
  int64_t appended = 0;
  size_t ran = 0;
  bool lost = false;  // the transaction itself is gone (SQLite rolled it back on an I/O error)
  for (; ran < batch.size(); ++ran) {
    if (auto r = exec_cached(c, "SAVEPOINT w"); !r) {
      lost = sqlite3_get_autocommit(c.db) != 0;
      if (lost) break;
      out[ran] = r;
      continue;
    }
    c.appended = 0;
    c.principal = batch[ran].principal;
    c.logged.clear();
    Result<void> r = batch[ran].run(c);
    if (r) {
      r = exec_cached(c, "RELEASE w");
      if (r) {
        written[ran] = true;
        std::move(c.logged.begin(), c.logged.end(), std::back_inserter(changes));
        appended = std::max(appended, c.appended);
        continue;
      }
    }
    if (sqlite3_get_autocommit(c.db) != 0) {  // rolled back whole: the earlier writes with it
      out[ran] = r;
      ++ran;
      lost = true;
      break;
    }
    (void)exec_cached(c, "ROLLBACK TO w");
    (void)exec_cached(c, "RELEASE w");
    out[ran] = r;
  }
  if (lost) {
    // Whatever had succeeded (and whatever did not run) runs again in the next batch.
    for (size_t i = 0; i < batch.size(); ++i)
      if (i >= ran || written[i]) out[i].reset();
    return 0;
  }
  if (auto commit = exec_cached(c, "COMMIT"); !commit) {
    (void)c.exec("ROLLBACK");
    for (size_t i = 0; i < batch.size(); ++i)
      if (written[i]) out[i] = commit;
    return 0;
  }
  for (const ChangeRecord& change : changes) log_committed(change);
  return appended;
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->commits = std::make_unique<GroupCommit>(
      [this](const auto& batch, auto& out) { return impl_->commit_batch(batch, out); },
      [this](int64_t revision) { committed(revision); });
}

SqliteStore::~SqliteStore() { impl_->commits.reset(); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& data_dir) {
  // The database holds token hashes and every policy: the service's user only.
  if (auto r = ensure_private_dir(data_dir); !r) return Error{"STORE_ERROR", r.error().message};
  const std::string file = (data_dir / "wiretag.db").string();
  auto tighten_files = [&]() -> Result<void> {
    for (const char* suffix : {"", "-wal", "-shm"})
      if (auto r = tighten_private_file(file + suffix); !r)
        return Error{"STORE_ERROR", r.error().message};
    return Ok();
  };
  // Before SQLite opens it: SQLite creates -wal and -shm with the database file's mode.
  if (auto r = create_private_file(file); !r) return Error{"STORE_ERROR", r.error().message};
  if (auto r = tighten_files(); !r) return r.error();
  auto impl = std::make_unique<Impl>();
  auto writer = connect(file, false);
  if (!writer) return writer.error();
  impl->writer = std::move(*writer);
  if (auto r = impl->writer->migrate(); !r) return r.error();
  for (int i = 0; i < 4; ++i) {
    auto reader = connect(file, true);
    if (!reader) return reader.error();
    impl->readers.push_back(std::move(*reader));
  }
  if (auto r = tighten_files(); !r) return r.error();
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

void SqliteStore::transact_async(WriteFn fn, WriteDone done) {
  impl_->commits->queue(std::move(fn), std::move(done));
}

Result<void> SqliteStore::transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) {
  if (write) return impl_->commits->run(fn);
  Connection& c = *impl_->readers[impl_->next_reader++ % impl_->readers.size()];
  std::lock_guard lock(c.mutex);
  if (auto r = exec_cached(c, "BEGIN"); !r) return r;
  Result<void> r = fn(c);
  (void)exec_cached(c, "ROLLBACK");
  return r;
}

Result<int64_t> SqliteStore::schema_version() {
  std::lock_guard lock(impl_->writer->mutex);
  return impl_->writer->count("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
}

}  // namespace wiretag
