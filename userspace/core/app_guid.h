// App guids and account ids: 1–128 characters of [A-Za-z0-9._:-] (SPEC §2).
#pragma once

#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

bool is_valid_app_guid(std::string_view guid);

// INVALID_GUID naming `field` when the guid is not valid.
Result<void> check_app_guid(std::string_view guid, std::string_view field = "guid");

// INVALID_ACCOUNT when the account id is not valid (same alphabet as app guids).
Result<void> check_account_id(std::string_view account);

}  // namespace wiretag
