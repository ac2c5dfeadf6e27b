#include "core/app_guid.h"

#include <string>

namespace wiretag {

bool is_valid_app_guid(std::string_view guid) {
  if (guid.empty() || guid.size() > 128) return false;
  for (char c : guid) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<void> check_app_guid(std::string_view guid, std::string_view field) {
  if (is_valid_app_guid(guid)) return Ok();
  return Error{"INVALID_GUID",
               "\"" + std::string(field) + "\" must be 1-128 characters of [A-Za-z0-9._:-]"};
}

Result<void> check_account_id(std::string_view account) {
  if (is_valid_app_guid(account)) return Ok();
  return Error{"INVALID_ACCOUNT", "account id must be 1-128 characters of [A-Za-z0-9._:-]"};
}

}  // namespace wiretag
