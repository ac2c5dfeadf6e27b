// The cells table (core/ports/cells.h) in the SQLite database of the data dir, on a
// connection of its own with synchronous=NORMAL: a heartbeat costs no fsync (WAL keeps the
// database consistent; a crash may lose the last heartbeats, which the next ones replace).
#pragma once

#include <filesystem>
#include <memory>

#include "core/ports/cells.h"

namespace wiretag {

// Opens <data_dir>/wiretag.db, which SqliteStore::open must have migrated to schema 7.
Result<std::unique_ptr<CellsPort>> open_sqlite_cells(const std::filesystem::path& data_dir);

}  // namespace wiretag
