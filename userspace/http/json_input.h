// Request bodies: parse and check shape (unknown, missing, wrongly typed fields) before the
// domain sees them, each failure with its own error_code.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag::http {

// INVALID_JSON for unparseable text (including duplicate-free garbage and empty bodies),
// INVALID_BODY when the top level is not an object.
Result<nlohmann::json> parse_json_object(std::string_view body);

// UNKNOWN_FIELD for a key not in `allowed`, MISSING_FIELD for a key of `required` absent.
Result<void> check_fields(const nlohmann::json& object,
                          std::initializer_list<std::string_view> required,
                          std::initializer_list<std::string_view> optional = {});

// INVALID_FIELD_TYPE unless object[key] is a string.
Result<std::string> string_field(const nlohmann::json& object, std::string_view key);
// Absent → nullopt; present and not a string → INVALID_FIELD_TYPE.
Result<std::optional<std::string>> optional_string_field(const nlohmann::json& object,
                                                         std::string_view key);

}  // namespace wiretag::http
