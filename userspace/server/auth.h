// Bearer tokens with scopes: network.admin sees everything; network.write acts on the
// accounts named in the token. Tokens are stored only as SHA-256 hashes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kScopeAdmin = "network.admin";
inline constexpr std::string_view kScopeWrite = "network.write";

struct Principal {
  bool admin = false;
  std::vector<std::string> accounts;  // where network.write applies

  bool can_access(std::string_view account) const;
};

class Authenticator {
 public:
  // insecure: every request is admin (--insecure-no-auth, local experiments only).
  Authenticator(Store& store, bool insecure) : store_(store), insecure_(insecure) {}

  // UNAUTHORIZED for a missing, malformed or unknown bearer token.
  Result<Principal> authenticate(std::string_view authorization_header) const;

  // A new random token with these scopes; only its hash is stored.
  Result<std::string> issue(std::vector<std::string> scopes, std::vector<std::string> accounts,
                            std::string description);

  // On first start (no token in the store) writes an admin token to <data_dir>/admin-token
  // with mode 0600 and returns the path; otherwise returns an empty path.
  Result<std::filesystem::path> bootstrap_admin(const std::filesystem::path& data_dir);

  static std::string hash(std::string_view token);

 private:
  Store& store_;
  bool insecure_;
};

}  // namespace wiretag
