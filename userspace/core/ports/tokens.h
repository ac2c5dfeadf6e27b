// The port for bearer tokens, kept as hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

struct TokenRecord {
  std::string hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::vector<std::string> scopes;
  std::vector<std::string> accounts;  // for network.write
  std::string description;
  std::string id;          // how lists and revocation name the token: not secret
  std::string cell;        // for scope cell: the one cell it acts as ("" before schema 4)
  int64_t created_at = 0;  // unix seconds
  std::optional<int64_t> expires_at;    // unix seconds; none = never
  std::optional<int64_t> last_used_at;  // unix seconds, coarse (see Authenticator)
};

class TokensPort {
 public:
  virtual ~TokensPort() = default;

  virtual Result<std::optional<TokenRecord>> find_token(std::string_view hash) = 0;
  // Fails when the hash or the id is already held; created_at 0 = now.
  virtual Result<void> insert_token(const TokenRecord& token) = 0;
  virtual Result<int64_t> count_tokens() = 0;
  // Every token, oldest first.
  virtual Result<std::vector<TokenRecord>> list_tokens() = 0;
  // false when no token has this id.
  virtual Result<bool> delete_token(std::string_view id) = 0;
  virtual Result<void> set_token_last_used(std::string_view hash, int64_t at) = 0;
};

}  // namespace wiretag
