// What the SQLite store keeps of its logs (issue 14 item 16): the change log compacted behind
// a horizon recorded in `meta`, and the PAP audit pruned by age and count. Used by the
// store's transactions; the caller holds the transaction open.
#pragma once

#include <sqlite3.h>

#include <cstdint>

#include "wiretag/result.h"

namespace wiretag::sqlite_retention {

// The highest revision compacted away, 0 when none was.
Result<int64_t> change_horizon(sqlite3* db);
// See StoreTx::compact_changes.
Result<int64_t> compact_changes(sqlite3* db, int64_t keep_revisions, int64_t logged_before,
                                int64_t floor);
// See StoreTx::prune_pap_audit.
Result<int64_t> prune_pap_audit(sqlite3* db, int64_t keep_records, int64_t before_ms);

}  // namespace wiretag::sqlite_retention
