// Which Store the server runs on (--db): the embedded SQLite database in the data dir, or a
// PostgreSQL database several servers may share.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace wiretag {

// db_url: "sqlite" (<data_dir>/wiretag.db), or "postgresql://…" / "postgres://…" (libpq URL).
// DB_URL_INVALID for anything else, DB_UNREACHABLE when the database cannot be reached,
// STORE_ERROR when it can but cannot be opened (e.g. a migration fails).
Result<std::unique_ptr<Store>> open_store(const std::string& db_url,
                                          const std::filesystem::path& data_dir);

// Once every commit observer is added: the commits of other servers on the same database reach
// them too (PostgreSQL, LISTEN/NOTIFY). SQLite: nothing to do (readers of the in-memory index
// poll for other processes' writes).
void follow_other_servers(Store& store);

// Whether db_url names a PostgreSQL database (one several servers may share).
bool is_postgresql_url(std::string_view db_url);

}  // namespace wiretag
