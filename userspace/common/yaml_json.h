// YAML documents as JSON values, both ways: the CLI reads policy files in either, and the
// lifecycle API (TOSCA) speaks both. JSON is a subset of YAML, so one parser reads both.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

// One YAML (or JSON) document → JSON. Plain scalars become integers, floats, booleans
// (true/false) or null (null, ~, empty) where they read as such; quoted scalars stay
// strings. INVALID_YAML (with line and column) on a syntax error, YAML_TOO_DEEP past 64
// levels, EMPTY_DOCUMENT for no document, UNSUPPORTED_YAML for a non-string mapping key,
// YAML_TOO_LARGE when aliases expand it past one value per byte of text plus 100,000.
Result<nlohmann::json> yaml_to_json(std::string_view text);

// JSON → YAML text (block style, keys in the JSON's order). Strings that would read back as
// another type ("123", "true", "") are quoted.
std::string json_to_yaml(const nlohmann::json& value);

}  // namespace wiretag
