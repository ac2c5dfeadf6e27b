#include "http/json_input.h"

#include <algorithm>

namespace wiretag::http {

Result<nlohmann::json> parse_json_object(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error{"INVALID_JSON", "request body is not valid JSON"};
  if (!j.is_object()) return Error{"INVALID_BODY", "request body must be a JSON object"};
  return j;
}

Result<void> check_fields(const nlohmann::json& object,
                          std::initializer_list<std::string_view> required,
                          std::initializer_list<std::string_view> optional) {
  for (const auto& [key, value] : object.items()) {
    bool known = std::find(required.begin(), required.end(), key) != required.end() ||
                 std::find(optional.begin(), optional.end(), key) != optional.end();
    if (!known) return Error{"UNKNOWN_FIELD", "unknown field \"" + key + "\""};
  }
  for (std::string_view key : required) {
    if (!object.contains(key))
      return Error{"MISSING_FIELD", "missing required field \"" + std::string(key) + "\""};
  }
  return Ok();
}

Result<std::string> string_field(const nlohmann::json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end())
    return Error{"MISSING_FIELD", "missing required field \"" + std::string(key) + "\""};
  if (!it->is_string())
    return Error{"INVALID_FIELD_TYPE", "field \"" + std::string(key) + "\" must be a string"};
  return it->get<std::string>();
}

Result<std::optional<std::string>> optional_string_field(const nlohmann::json& object,
                                                         std::string_view key) {
  auto it = object.find(key);
  if (it == object.end()) return std::optional<std::string>{};
  if (!it->is_string())
    return Error{"INVALID_FIELD_TYPE", "field \"" + std::string(key) + "\" must be a string"};
  return std::optional<std::string>{it->get<std::string>()};
}

}  // namespace wiretag::http
