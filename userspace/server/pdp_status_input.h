// PDP_STATUS (SPEC §4.4, ONAP field names) as the internal API receives it from a cell:
// parsed and checked field by field (types, names, bounds), each failure with its own
// error_code, before anything is kept.
#pragma once

#include <string>

#include "core/cell_registry.h"
#include "wiretag/result.h"

namespace wiretag {

// The bounds of a cell's heartbeat interval (PDP_STATUS heartbeatIntervalMs, the server's
// --pdp-heartbeat-interval), milliseconds.
inline constexpr int64_t kMinHeartbeatIntervalMs = 100;
inline constexpr int64_t kMaxHeartbeatIntervalMs = 3600000;
// ONAP's free-text PdpStatus `properties`, at most this long (serialized when an object).
inline constexpr size_t kMaxPropertiesBytes = 16 * 1024;

// The report in `body` from the cell named in the path (`path_name`). A cell that does not
// say its heartbeatIntervalMs (ONAP's PDPs do not) is judged by default_heartbeat_ms.
Result<CellReport> parse_pdp_status(const std::string& body, const std::string& path_name,
                                    int64_t default_heartbeat_ms);

}  // namespace wiretag
