// A cell's last PDP_STATUS as the cells table keeps it (core/ports/cells.h): JSON named after
// CellReport's fields. Every server on the database writes and reads this one encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/cell_registry.h"

namespace wiretag {

std::string encode_cell_report(const CellReport& report);
// nullopt when the text is not a report this encoding wrote.
std::optional<CellReport> decode_cell_report(std::string_view text);

}  // namespace wiretag
