#include "core/cell_registry.h"

#include <algorithm>
#include <chrono>

namespace wiretag {

namespace {
constexpr int64_t kSweepEveryMs = 1000;
}  // namespace

CellRegistry::CellRegistry(std::function<int64_t()> clock_ms, int64_t retention_ms)
    : clock_ms_(std::move(clock_ms)), retention_ms_(retention_ms) {}

CellRegistry::CellRegistry(std::function<int64_t()> clock_ms, int64_t retention_ms,
                           CellsPort& shared, int64_t refresh_ms)
    : clock_ms_(std::move(clock_ms)),
      retention_ms_(retention_ms),
      shared_(&shared),
      refresh_ms_(refresh_ms) {}

int64_t CellRegistry::now() const {
  if (clock_ms_) return clock_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<void> CellRegistry::report(CellReport report) {
  const int64_t at = now();
  std::string stored;
  if (shared_)
    if (auto r = write_through(report, at, stored); !r) return r;
  std::lock_guard lock(mutex_);
  std::string name = report.name;
  cells_.insert_or_assign(std::move(name), Entry{std::move(report), at, std::move(stored)});
  if (at >= next_sweep_ms_) {
    evict_locked(at);
    next_sweep_ms_ = at + kSweepEveryMs;
  }
  return Ok();
}

bool CellRegistry::evicted(const Entry& entry, int64_t now) const {
  return now - entry.last_heartbeat_ms > 3 * entry.report.heartbeat_interval_ms + retention_ms_;
}

size_t CellRegistry::evict_locked(int64_t now) {
  return std::erase_if(cells_, [&](const auto& item) { return evicted(item.second, now); });
}

size_t CellRegistry::evict_expired() {
  const int64_t at = now();
  const size_t forgotten = shared_ ? forget_in_store(at) : 0;
  std::lock_guard lock(mutex_);
  return std::max(forgotten, evict_locked(at));
}

Cell CellRegistry::view(const Entry& entry, int64_t now) const {
  Cell cell{entry.report, entry.last_heartbeat_ms, false, false};
  // SPEC §4.4: a cell that missed 3 heartbeats is expired and reported unhealthy. ONAP's PDP
  // says TERMINATED as it stops: expired at once, then forgotten after the retention.
  cell.expired = now - entry.last_heartbeat_ms > 3 * entry.report.heartbeat_interval_ms ||
                 entry.report.state == "TERMINATED";
  cell.healthy = entry.report.healthy == "HEALTHY" && !cell.expired;
  return cell;
}

std::vector<Cell> CellRegistry::list() const {
  const int64_t at = now();
  std::lock_guard lock(mutex_);
  refresh_locked(at);
  std::vector<Cell> out;
  out.reserve(cells_.size());
  for (const auto& [name, entry] : cells_)
    if (!evicted(entry, at)) out.push_back(view(entry, at));
  return out;
}

std::vector<std::string> CellRegistry::vteps() const {
  const int64_t at = now();
  std::lock_guard lock(mutex_);
  refresh_locked(at);  // the other servers' cells too: every server answers the same set
  std::vector<std::string> out;
  for (const auto& [name, entry] : cells_)
    if (!evicted(entry, at))
      out.insert(out.end(), entry.report.vtep_addresses.begin(), entry.report.vtep_addresses.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<Cell> CellRegistry::find(std::string_view name) const {
  const int64_t at = now();
  std::lock_guard lock(mutex_);
  refresh_locked(at);
  auto it = cells_.find(name);
  if (it == cells_.end() || evicted(it->second, at)) return std::nullopt;
  return view(it->second, at);
}

}  // namespace wiretag
