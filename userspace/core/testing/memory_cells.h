// The cells port (core/ports/cells.h) in memory, for domain tests: one table that every
// CellRegistry given it shares, as the servers on one database share the cells table, with the
// backends' expiry rule for forget_cells. fail_with() makes every call fail from then on (a
// database gone), until cleared.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/ports/cells.h"

namespace wiretag {

class MemoryCells : public CellsPort {
 public:
  Result<void> upsert_cell_report(const CellRecord& cell) override;
  Result<std::vector<CellRecord>> cells() override;
  Result<int64_t> forget_cells(int64_t now_ms, int64_t retention_ms) override;

  void fail_with(std::optional<Error> error);

 private:
  std::mutex mutex_;
  std::map<std::string, CellRecord, std::less<>> cells_;  // by name
  std::optional<Error> failing_;
};

}  // namespace wiretag
