// What the PostgreSQL store keeps of its logs, as sqlite_retention does for SQLite: the change
// log compacted behind a horizon recorded in `meta`, the PAP audit pruned by age and count.
// The caller holds the write transaction open.
#pragma once

#include <cstdint>

#include "store/pg_connection.h"

namespace wiretag::pg_retention {

// The highest revision compacted away, 0 when none was.
Result<int64_t> change_horizon(pg::Connection& c);
// See StoreTx::compact_changes.
Result<int64_t> compact_changes(pg::Connection& c, int64_t keep_revisions, int64_t logged_before,
                                int64_t floor);
// See StoreTx::prune_pap_audit.
Result<int64_t> prune_pap_audit(pg::Connection& c, int64_t keep_records, int64_t before_ms);

}  // namespace wiretag::pg_retention
