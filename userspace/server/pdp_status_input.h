// PDP_STATUS (SPEC §4.4, ONAP field names) as the internal API receives it from a cell:
// parsed and checked field by field (types, names, bounds), each failure with its own
// error_code, before anything is kept.
#pragma once

#include <string>

#include "core/cell_registry.h"
#include "wiretag/result.h"

namespace wiretag {

// The report in `body` from the cell named in the path (`path_name`).
Result<CellReport> parse_pdp_status(const std::string& body, const std::string& path_name);

}  // namespace wiretag
