// The cells (PDPs) as every server on one database sees them: each cell's last PDP_STATUS and
// when it came (schema 7, table `cells`). Heartbeats are not policy changes: an upsert here
// appends nothing to the change log, bumps no revision and wakes no watch. Each call is its own
// short transaction, on a connection of its own beside the Store's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

struct CellRecord {
  std::string name;
  std::string report;  // the cell's last PDP_STATUS as the registry encodes it (JSON)
  int64_t heartbeat_interval_ms = 0;
  int64_t last_heartbeat_ms = 0;  // unix ms, the clock of the server that received it
  friend bool operator==(const CellRecord&, const CellRecord&) = default;
};

class CellsStore {
 public:
  virtual ~CellsStore() = default;
  // Registers the cell or replaces what it reported before.
  virtual Result<void> upsert_cell_report(const CellRecord& cell) = 0;
  // Every cell, by name.
  virtual Result<std::vector<CellRecord>> cells() = 0;
  // Removes the cells silent for more than 3 heartbeat intervals plus retention_ms at now_ms;
  // how many.
  virtual Result<int64_t> forget_cells(int64_t now_ms, int64_t retention_ms) = 0;
};

}  // namespace wiretag
