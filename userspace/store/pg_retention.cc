#include "store/pg_retention.h"

#include <algorithm>

namespace wiretag::pg_retention {

Result<int64_t> change_horizon(pg::Connection& c) {
  WT_TRY(rows, c.run("SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'changelog_horizon'"));
  return rows->empty() ? int64_t{0} : rows->i64(0, 0);
}

Result<int64_t> compact_changes(pg::Connection& c, int64_t keep_revisions, int64_t logged_before,
                                int64_t floor) {
  int64_t through = 0;
  if (keep_revisions > 0) {
    WT_TRY(current, c.run("SELECT revision FROM change_sequence WHERE id = 1"));
    through = std::max(through, current->i64(0, 0) - keep_revisions);
  }
  if (logged_before > 0) {
    WT_TRY(aged,
           c.run("SELECT COALESCE(MAX(revision), 0) FROM changes WHERE at < $1", {logged_before}));
    through = std::max(through, aged->i64(0, 0));
  }
  through = std::min(through, floor);
  WT_TRY(horizon, change_horizon(c));
  if (through <= *horizon) return int64_t{0};
  WT_TRY(removed, c.run("DELETE FROM changes WHERE revision <= $1", {through}));
  WT_TRY(set, c.run("INSERT INTO meta (key, value) VALUES ('changelog_horizon', $1) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    {std::to_string(through)}));
  return removed->affected();
}

Result<int64_t> prune_pap_audit(pg::Connection& c, int64_t keep_records, int64_t before_ms) {
  int64_t removed = 0;
  if (before_ms > 0) {
    WT_TRY(aged, c.run("DELETE FROM pap_audit WHERE at_ms < $1", {before_ms}));
    removed += aged->affected();
  }
  if (keep_records > 0) {
    // Every record older than the keep_records-th newest; none when there are fewer.
    WT_TRY(old, c.run("DELETE FROM pap_audit WHERE id < (SELECT id FROM pap_audit ORDER BY id "
                      "DESC LIMIT 1 OFFSET $1)",
                      {keep_records - 1}));
    removed += old->affected();
  }
  return removed;
}

}  // namespace wiretag::pg_retention
