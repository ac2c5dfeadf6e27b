#include "core/field_limits.h"

#include <string>

#include "core/app_guid.h"

namespace wiretag {

Result<void> check_name(std::string_view value, std::string_view field, std::string_view code) {
  if (is_valid_app_guid(value)) return Ok();
  return Error{std::string(code), "\"" + std::string(field) + "\" must be 1-" +
                                      std::to_string(kMaxNameChars) +
                                      " characters of [A-Za-z0-9._:-]"};
}

Result<void> check_text(std::string_view value, std::string_view field, size_t max) {
  if (value.size() <= max) return Ok();
  return Error{"FIELD_TOO_LONG", "\"" + std::string(field) + "\" is " +
                                     std::to_string(value.size()) + " bytes; at most " +
                                     std::to_string(max) + " are accepted"};
}

Result<void> check_items(const nlohmann::json& array, std::string_view field, size_t max) {
  if (!array.is_array() || array.size() <= max) return Ok();
  return Error{"FIELD_TOO_LONG", "\"" + std::string(field) + "\" holds " +
                                     std::to_string(array.size()) + " items; at most " +
                                     std::to_string(max) + " are accepted"};
}

Result<void> check_object_size(const nlohmann::json& value, std::string_view field, size_t max) {
  const size_t size = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
  if (size <= max) return Ok();
  return Error{"FIELD_TOO_LONG", "\"" + std::string(field) + "\" is " + std::to_string(size) +
                                     " bytes as JSON; at most " + std::to_string(max) +
                                     " are accepted"};
}

}  // namespace wiretag
