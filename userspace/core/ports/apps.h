// The port for accounts, apps and their tags: what the policy graph reads and writes of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

struct AppRecord {
  std::string guid;
  std::string account;
  uint32_t tag = 0;
};

// A tag ever handed out: held by `app`, or released at `released_at` (unix seconds).
struct TagRecord {
  uint32_t tag = 0;
  std::optional<std::string> app;
  int64_t released_at = 0;
};

class AppsPort {
 public:
  virtual ~AppsPort() = default;

  virtual Result<bool> account_exists(std::string_view account) = 0;
  virtual Result<void> ensure_account(std::string_view account) = 0;
  // Every account id, ordered.
  virtual Result<std::vector<std::string>> list_accounts() = 0;

  virtual Result<std::optional<AppRecord>> find_app(std::string_view guid) = 0;
  virtual Result<std::optional<AppRecord>> find_app_by_tag(uint32_t tag) = 0;
  // All apps, or those of one account, ordered by guid.
  virtual Result<std::vector<AppRecord>> list_apps(std::optional<std::string_view> account) = 0;
  // Fails when the guid or the tag is already held.
  virtual Result<void> insert_app(const AppRecord& app) = 0;
  virtual Result<void> delete_app(std::string_view guid) = 0;
  virtual Result<int64_t> count_apps() = 0;

  virtual Result<std::optional<TagRecord>> find_tag(uint32_t tag) = 0;
  // The released tag released longest ago, if it was released at or before `released_before`.
  virtual Result<std::optional<TagRecord>> oldest_released_tag(int64_t released_before) = 0;
  // Inserts or replaces.
  virtual Result<void> put_tag(const TagRecord& tag) = 0;
};

}  // namespace wiretag
