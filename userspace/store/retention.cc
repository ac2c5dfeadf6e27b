#include "store/retention.h"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>

namespace wiretag::sqlite_retention {
namespace {

using Statement = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

Error failed(sqlite3* db, const char* what) {
  return Error{"STORE_ERROR", std::string(what) + ": " + sqlite3_errmsg(db)};
}

// Runs sql with these integer parameters; the first column of its first row, or 0.
Result<int64_t> run(sqlite3* db, const char* sql, std::initializer_list<int64_t> params = {}) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) return failed(db, "prepare");
  Statement s(raw, sqlite3_finalize);
  int i = 0;
  for (int64_t p : params) sqlite3_bind_int64(s.get(), ++i, p);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return sqlite3_column_int64(s.get(), 0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return failed(db, "retention");
}

}  // namespace

Result<int64_t> change_horizon(sqlite3* db) {
  return run(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'changelog_horizon'");
}

Result<int64_t> compact_changes(sqlite3* db, int64_t keep_revisions, int64_t logged_before,
                                int64_t floor) {
  int64_t through = 0;
  if (keep_revisions > 0) {
    WT_TRY(current,
           run(db, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"));
    through = std::max(through, *current - keep_revisions);
  }
  if (logged_before > 0) {
    WT_TRY(aged,
           run(db, "SELECT COALESCE(MAX(revision), 0) FROM changes WHERE at < ?", {logged_before}));
    through = std::max(through, *aged);
  }
  through = std::min(through, floor);
  WT_TRY(horizon, change_horizon(db));
  if (through <= *horizon) return int64_t{0};
  if (auto r = run(db, "DELETE FROM changes WHERE revision <= ?", {through}); !r) return r.error();
  const int64_t removed = sqlite3_changes(db);
  if (auto r = run(db,
                   "INSERT OR REPLACE INTO meta (key, value) VALUES ('changelog_horizon', "
                   "CAST(? AS TEXT))",
                   {through});
      !r)
    return r.error();
  return removed;
}

Result<int64_t> prune_pap_audit(sqlite3* db, int64_t keep_records, int64_t before_ms) {
  int64_t removed = 0;
  if (before_ms > 0) {
    if (auto r = run(db, "DELETE FROM pap_audit WHERE at_ms < ?", {before_ms}); !r)
      return r.error();
    removed += sqlite3_changes(db);
  }
  if (keep_records > 0) {
    // Every record older than the keep_records-th newest; none when there are fewer.
    if (auto r = run(db,
                     "DELETE FROM pap_audit WHERE id < (SELECT id FROM pap_audit ORDER BY id DESC "
                     "LIMIT 1 OFFSET ?)",
                     {keep_records - 1});
        !r)
      return r.error();
    removed += sqlite3_changes(db);
  }
  return removed;
}

}  // namespace wiretag::sqlite_retention
