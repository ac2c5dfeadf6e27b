// Request bodies: parse and check shape (unknown, missing, wrongly typed fields) before the
// domain sees them, each failure with its own error_code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag::http {

// Arrays and objects nested inside one another, the outermost counting as 1: deeper text
// would make nlohmann::json's copy, dump and compare recurse until the stack overflows.
inline constexpr size_t kMaxJsonDepth = 64;
// Any string value or object key of a request body (64 KiB): the ceiling under the tighter
// bounds of particular fields.
inline constexpr size_t kMaxJsonStringBytes = 64 * 1024;

struct JsonLimits {
  size_t max_depth = kMaxJsonDepth;
  size_t max_string_bytes = kMaxJsonStringBytes;
};
// What a program reads back from its peers and its own files (responses, watch lines, state):
// a body accepted under kMaxJsonDepth inside the envelope that carries it; strings unbounded.
inline constexpr JsonLimits kReceivedJsonLimits{2 * kMaxJsonDepth, SIZE_MAX};

// Any JSON text, checked while it is parsed and given up at the first excess, before a deep
// value is built: INVALID_JSON for unparseable text, JSON_TOO_DEEP past max_depth,
// FIELD_TOO_LONG (naming the field, e.g. "groups[0].name") for a longer string or key.
Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits = {});

// parse_json() of a request body, then INVALID_BODY when the top level is not an object.
// INVALID_JSON covers garbage and empty bodies.
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
