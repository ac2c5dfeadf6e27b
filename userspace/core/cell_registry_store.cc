// CellRegistry's shared side: the cells kept in the database (core/ports/cells.h), so that
// every server on it lists the same cells with the same heartbeat times.
#include "core/cell_registry.h"
#include "core/cell_report_codec.h"
#include "core/ports/cells.h"

namespace wiretag {

Result<void> CellRegistry::write_through(const CellReport& report, int64_t at,
                                         std::string& stored) {
  stored = encode_cell_report(report);
  return shared_->upsert_cell_report(
      CellRecord{report.name, stored, report.heartbeat_interval_ms, at});
}

void CellRegistry::refresh_locked(int64_t now) const {
  if (!shared_) return;
  if (refreshed_at_ms_) {
    if (refresh_ms_ < 0 && read_once_) return;
    // A failed first read of a read-once registry is tried again as often as the default.
    const int64_t every = refresh_ms_ < 0 ? kDefaultRefreshMs : refresh_ms_;
    if (now - *refreshed_at_ms_ < every) return;
  }
  // Also when the read fails: the next read tries again after that interval; meanwhile the
  // cells as last read (and this server's heartbeats since) stand.
  refreshed_at_ms_ = now;
  auto rows = shared_->cells();
  if (!rows) return;
  read_once_ = true;
  std::map<std::string, Entry, std::less<>> read;
  for (CellRecord& row : *rows) {
    auto known = cells_.find(row.name);
    if (known != cells_.end() && known->second.stored == row.report &&
        known->second.last_heartbeat_ms == row.last_heartbeat_ms) {
      read.emplace(std::move(row.name), std::move(known->second));
      continue;
    }
    std::optional<CellReport> report = decode_cell_report(row.report);
    if (!report) continue;  // not a report this version can read: as if it had not reported
    read.emplace(std::move(row.name),
                 Entry{std::move(*report), row.last_heartbeat_ms, std::move(row.report)});
  }
  cells_ = std::move(read);
}

size_t CellRegistry::forget_in_store(int64_t now) {
  auto removed = shared_->forget_cells(now, retention_ms_);
  return removed ? static_cast<size_t>(*removed) : 0;
}

}  // namespace wiretag
