// Bearer tokens with scopes: network.admin sees everything; network.write acts on the
// accounts named in the token; cell lets an agent use the internal API (/internal/v1) and
// nothing else. Tokens are stored only as SHA-256 hashes.
#pragma once

#include <filesystem>
#include <shared_mutex>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kScopeAdmin = "network.admin";
inline constexpr std::string_view kScopeWrite = "network.write";
inline constexpr std::string_view kScopeCell = "cell";

struct Principal {
  bool admin = false;
  bool writer = false;                // network.write
  bool cell = false;                  // an agent: the internal API only
  std::vector<std::string> accounts;  // where network.write applies

  bool can_access(std::string_view account) const;
};

class Authenticator {
 public:
  // insecure: every request is admin (--insecure-no-auth, local experiments only).
  Authenticator(Store& store, bool insecure) : store_(store), insecure_(insecure) {}

  // For the external APIs: UNAUTHORIZED for a missing, malformed or unknown bearer token,
  // FORBIDDEN for a token with neither network.admin nor network.write (a cell token).
  Result<Principal> authenticate(std::string_view authorization_header) const;
  // For /internal/v1: UNAUTHORIZED as above, FORBIDDEN unless network.admin or cell.
  Result<Principal> authenticate_internal(std::string_view authorization_header) const;

  // A new random token with these scopes; only its hash is stored.
  Result<std::string> issue(std::vector<std::string> scopes, std::vector<std::string> accounts,
                            std::string description);

  // On first start (no token in the store) writes an admin token to <data_dir>/admin-token
  // with mode 0600 and returns the path; otherwise returns an empty path.
  Result<std::filesystem::path> bootstrap_admin(const std::filesystem::path& data_dir);

  static std::string hash(std::string_view token);

 private:
  Result<Principal> identify(std::string_view authorization_header) const;

  // Tokens already found in the store: hash → principal. Tokens are only ever added (issue,
  // bootstrap), so an entry never goes stale; whatever changes tokens must call forget_tokens().
  void forget_tokens() const;

  Store& store_;
  bool insecure_;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, Principal> cache_;
};

}  // namespace wiretag
