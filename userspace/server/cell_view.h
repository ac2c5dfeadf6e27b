// How the server shows a cell (GET /internal/v1/cells, the cell a trace ran on) and which
// cells host an app's endpoints, from what each cell last reported in PDP_STATUS.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/cell_registry.h"

namespace wiretag {

nlohmann::json cell_json(const Cell& cell);

// The cells, not expired, whose last PDP_STATUS lists the app in hostedApps: healthy ones
// first, then by name.
std::vector<Cell> cells_hosting(const CellRegistry& cells, std::string_view app_guid);

}  // namespace wiretag
