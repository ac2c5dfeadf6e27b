#include "core/testing/memory_cells.h"

namespace wiretag {

Result<void> MemoryCells::upsert_cell_report(const CellRecord& cell) {
  std::lock_guard lock(mutex_);
  if (failing_) return *failing_;
  cells_.insert_or_assign(cell.name, cell);
  return Ok();
}

Result<std::vector<CellRecord>> MemoryCells::cells() {
  std::lock_guard lock(mutex_);
  if (failing_) return *failing_;
  std::vector<CellRecord> out;
  out.reserve(cells_.size());
  for (const auto& [name, cell] : cells_) out.push_back(cell);
  return out;
}

Result<int64_t> MemoryCells::forget_cells(int64_t now_ms, int64_t retention_ms) {
  std::lock_guard lock(mutex_);
  if (failing_) return *failing_;
  // As the backends' DELETE: silent for more than 3 intervals plus the retention.
  const auto n = std::erase_if(cells_, [&](const auto& row) {
    const CellRecord& c = row.second;
    return c.last_heartbeat_ms + 3 * c.heartbeat_interval_ms + retention_ms < now_ms;
  });
  return static_cast<int64_t>(n);
}

void MemoryCells::fail_with(std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  failing_ = std::move(error);
}

}  // namespace wiretag
