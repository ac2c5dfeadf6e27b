#include "store/pg_lifecycle.h"

#include "store/store.h"

namespace wiretag {

Result<std::vector<PolicyTypeRecord>> PgLifecycle::list_policy_types() {
  WT_TRY(rows, c_.run("SELECT name, version, derived_from, body FROM policy_types "
                      "ORDER BY name, version"));
  std::vector<PolicyTypeRecord> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back({rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), rows->text(i, 3)});
  return out;
}

Result<void> PgLifecycle::insert_policy_type(const PolicyTypeRecord& t) {
  WT_TRY(rows, c_.run("INSERT INTO policy_types (name, version, derived_from, body) "
                      "VALUES ($1, $2, $3, $4)",
                      {t.name, t.version, t.derived_from, t.body}));
  return Ok();
}

Result<bool> PgLifecycle::delete_policy_type(std::string_view name, std::string_view version) {
  WT_TRY(rows,
         c_.run("DELETE FROM policy_types WHERE name = $1 AND version = $2", {name, version}));
  return rows->affected() > 0;
}

Result<std::vector<PolicyRecord>> PgLifecycle::list_all_policies() {
  WT_TRY(rows, c_.run("SELECT id, account, refid, name, version, body FROM policies ORDER BY id"));
  std::vector<PolicyRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    PolicyRecord p{rows->text(i, 0), rows->text(i, 1), std::nullopt,
                   rows->text(i, 3), rows->i64(i, 4),  rows->text(i, 5)};
    if (!rows->is_null(i, 2)) p.refid = rows->text(i, 2);
    out.push_back(std::move(p));
  }
  return out;
}

Result<bool> PgLifecycle::delete_policy_version(std::string_view id, int64_t version) {
  WT_TRY(rows, c_.run("DELETE FROM policy_versions WHERE id = $1 AND version = $2", {id, version}));
  return rows->affected() > 0;
}

Result<int64_t> PgLifecycle::highest_policy_version(std::string_view id) {
  WT_TRY(rows, c_.run("SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE id = $1", {id}));
  return rows->i64(0, 0);
}

}  // namespace wiretag
