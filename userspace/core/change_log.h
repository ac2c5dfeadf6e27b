// Where the domain logs a change for the cells: a typed change (protocol/change_events.h)
// becomes a change-log row in the same transaction as the write it describes.
#pragma once

#include <cstdint>

#include "protocol/change_events.h"
#include "core/ports/change_log.h"
#include "wiretag/result.h"

namespace wiretag {

// Appends `change` (its body encoded by the protocol's codec); the new revision.
Result<int64_t> log_change(ChangeLogPort& tx, const protocol::Change& change);

}  // namespace wiretag
