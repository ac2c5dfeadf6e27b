#include "store/sqlite_lifecycle.h"

#include "store/store.h"

namespace wiretag {
namespace {

using sqlite::Stmt;

#define WT_TRY_STMT(var, sql)           \
  auto var##_r = st_.prepare(sql);      \
  if (!var##_r) return var##_r.error(); \
  Stmt& var = var##_r.value()

}  // namespace

Result<std::vector<PolicyTypeRecord>> SqliteLifecycle::list_policy_types() {
  WT_TRY_STMT(s,
              "SELECT name, version, derived_from, body FROM policy_types ORDER BY name, version");
  std::vector<PolicyTypeRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3)});
  }
}

Result<void> SqliteLifecycle::insert_policy_type(const PolicyTypeRecord& t) {
  WT_TRY_STMT(s,
              "INSERT INTO policy_types (name, version, derived_from, body) VALUES (?, ?, ?, ?)");
  return s.bind(t.name).bind(t.version).bind(t.derived_from).bind(t.body).exec();
}

Result<bool> SqliteLifecycle::delete_policy_type(std::string_view name, std::string_view version) {
  WT_TRY_STMT(s, "DELETE FROM policy_types WHERE name = ? AND version = ?");
  if (auto r = s.bind(name).bind(version).exec(); !r) return r.error();
  return sqlite3_changes(st_.db) > 0;
}

Result<std::vector<PolicyRecord>> SqliteLifecycle::list_all_policies() {
  WT_TRY_STMT(s, "SELECT id, account, refid, name, version, body FROM policies ORDER BY id");
  std::vector<PolicyRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    PolicyRecord p{s.text(0), s.text(1), std::nullopt, s.text(3), s.i64(4), s.text(5)};
    if (!s.is_null(2)) p.refid = s.text(2);
    out.push_back(std::move(p));
  }
}

Result<bool> SqliteLifecycle::delete_policy_version(std::string_view id, int64_t version) {
  WT_TRY_STMT(s, "DELETE FROM policy_versions WHERE id = ? AND version = ?");
  if (auto r = s.bind(id).bind(version).exec(); !r) return r.error();
  return sqlite3_changes(st_.db) > 0;
}

Result<int64_t> SqliteLifecycle::highest_policy_version(std::string_view id) {
  WT_TRY_STMT(s, "SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE id = ?");
  auto row = s.bind(id).step();
  if (!row) return row.error();
  return *row ? s.i64(0) : 0;
}

}  // namespace wiretag
