#include "core/log_retention.h"

#include <chrono>
#include <limits>

namespace wiretag {

LogRetention::LogRetention(Store& store, RetentionPolicy policy,
                           std::function<Result<int64_t>()> floor,
                           std::function<int64_t()> clock_ms)
    : store_(store), policy_(policy), floor_(std::move(floor)), clock_ms_(std::move(clock_ms)) {}

Result<RetentionRun> LogRetention::run() {
  const int64_t now_ms = clock_ms_ ? clock_ms_()
                                   : std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
  int64_t floor = std::numeric_limits<int64_t>::max();
  if (floor_) {
    WT_TRY(f, floor_());
    floor = *f;
  }
  const RetentionPolicy p = policy_;
  return store_.write<RetentionRun>([&](StoreTx& tx) -> Result<RetentionRun> {
    RetentionRun out;
    const int64_t logged_before = p.changelog_seconds > 0 ? now_ms / 1000 - p.changelog_seconds : 0;
    WT_TRY(changes, tx.compact_changes(p.changelog_revisions, logged_before, floor));
    out.changes_removed = *changes;
    const int64_t audit_before = p.audit_seconds > 0 ? now_ms - p.audit_seconds * 1000 : 0;
    WT_TRY(audit, tx.prune_pap_audit(p.audit_records, audit_before));
    out.audit_removed = *audit;
    WT_TRY(horizon, tx.change_horizon());
    out.horizon = *horizon;
    return out;
  });
}

}  // namespace wiretag
