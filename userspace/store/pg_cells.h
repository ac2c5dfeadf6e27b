// The cells table (core/ports/cells.h) in a PostgreSQL database, on a connection of its own:
// each call one autocommitted statement, outside the write transactions' advisory lock, so a
// heartbeat never waits for a policy write of any server.
#pragma once

#include <memory>
#include <string>

#include "core/ports/cells.h"

namespace wiretag {

// The database at url, which PgStore::open must have migrated to schema 7.
Result<std::unique_ptr<CellsPort>> open_pg_cells(const std::string& url);

}  // namespace wiretag
