// How long names and free text may be where they enter through an API (issue 14 item 7),
// one place for every route: names are identifiers (1-128 of [A-Za-z0-9._:-]), free text
// is bounded, JSON objects kept as given are bounded when serialized. docs/server.md,
// "Field limits", lists every field.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

inline constexpr size_t kMaxNameChars = 128;      // cell, group, subgroup, pdpType, account, app
inline constexpr size_t kMaxLabelChars = 256;     // policy names, refids, policy type names
inline constexpr size_t kMaxTextChars = 1024;     // descriptions, messages, reasons
inline constexpr size_t kMaxObjectBytes = 16384;  // "properties" (serialized)
inline constexpr size_t kMaxListItems = 1000;     // PDP_STATUS policies, failedPolicies

// 1-128 of [A-Za-z0-9._:-]; else `code` (INVALID_NAME unless the field has its own).
Result<void> check_name(std::string_view value, std::string_view field,
                        std::string_view code = "INVALID_NAME");
// At most `max` bytes; else FIELD_TOO_LONG naming the field and the bound.
Result<void> check_text(std::string_view value, std::string_view field, size_t max = kMaxTextChars);
// An array of at most `max` items; else FIELD_TOO_LONG.
Result<void> check_items(const nlohmann::json& array, std::string_view field,
                         size_t max = kMaxListItems);
// Serialized, at most `max` bytes; else FIELD_TOO_LONG.
Result<void> check_object_size(const nlohmann::json& value, std::string_view field,
                               size_t max = kMaxObjectBytes);

}  // namespace wiretag
