// The port for the cells (PDPs) as every server on one database sees them: each cell's last
// PDP_STATUS and when it came (the `cells` table, schema 7). Heartbeats are not policy changes:
// an upsert here appends nothing to the change log, bumps no revision and wakes no watch, so
// this port is no part of StoreTx: each call is its own short transaction, on a connection of
// its own beside the Store's (store/sqlite_cells.h, store/pg_cells.h;
// core/testing/memory_cells.h for domain tests).
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

class CellsPort {
 public:
  virtual ~CellsPort() = default;
  // Registers the cell or replaces what it reported before.
  virtual Result<void> upsert_cell_report(const CellRecord& cell) = 0;
  // Every cell, by name.
  virtual Result<std::vector<CellRecord>> cells() = 0;
  // Removes the cells silent for more than 3 heartbeat intervals plus retention_ms at now_ms;
  // how many.
  virtual Result<int64_t> forget_cells(int64_t now_ms, int64_t retention_ms) = 0;
};

}  // namespace wiretag
