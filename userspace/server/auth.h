// Bearer tokens with scopes: network.admin sees everything; network.write acts on the
// accounts named in the token; cell lets an agent use the internal API (/internal/v1) as the
// one cell named in the token, and nothing else; metrics may read GET /metrics and nothing else.
// Tokens are stored only as SHA-256 hashes; they can be listed (never the secret), revoked, and
// expire.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/router.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kScopeAdmin = "network.admin";
inline constexpr std::string_view kScopeWrite = "network.write";
inline constexpr std::string_view kScopeCell = "cell";
// GET /metrics only: what a Prometheus scraper carries.
inline constexpr std::string_view kScopeMetrics = "metrics";

struct Principal {
  bool admin = false;
  bool writer = false;                // network.write
  bool cell = false;                  // an agent: the internal API only
  bool metrics = false;               // a scraper: GET /metrics only
  std::vector<std::string> accounts;  // where network.write applies
  // The one cell a cell credential acts as: from its token, or a client certificate's name.
  // Empty for other credentials (and for cell tokens issued before cells were bound).
  std::string cell_name;
  // Who this is in logs and the change log: "token:ID" (the id `wiretag token list` shows),
  // "cell:NAME" for a client certificate, "insecure" under --insecure-no-auth.
  std::string name;

  bool can_access(std::string_view account) const;
  // Admin acts for any cell; a cell credential only as its own. CELL_MISMATCH otherwise.
  Result<void> may_act_as_cell(std::string_view cell) const;
};

// What a new token may do (POST /v1/tokens).
struct TokenGrant {
  std::vector<std::string> scopes;
  std::vector<std::string> accounts;
  std::string cell;
  std::string description;
  std::optional<int64_t> expires_in;  // seconds from now; none = never expires
};

struct IssuedToken {
  std::string secret;  // shown once, at issue
  TokenRecord record;
};

class Authenticator {
 public:
  // A token's last use is written at most this often (not once per request).
  static constexpr int64_t kLastUsedGranularitySeconds = 60;
  // A token found in the store is looked up there again after this long, so a token revoked
  // through another server on the same database (--db postgresql://…) stops within it.
  static constexpr int64_t kRecheckSeconds = 5;

  // insecure: every request is admin (--insecure-no-auth, local experiments only).
  Authenticator(Store& store, bool insecure) : store_(store), insecure_(insecure) {}

  // For the external APIs: UNAUTHORIZED for a missing, malformed, unknown, revoked or expired
  // bearer token, FORBIDDEN for a token with neither network.admin nor network.write.
  Result<Principal> authenticate(std::string_view authorization_header) const;
  // For /internal/v1: UNAUTHORIZED as above, FORBIDDEN unless network.admin or cell. Without
  // an Authorization header, a verified client certificate's cell (mutual TLS, `peer_cell`)
  // is a cell credential for that one cell.
  Result<Principal> authenticate_internal(std::string_view authorization_header,
                                          std::string_view peer_cell = {}) const;

  // For GET /metrics: UNAUTHORIZED as above, FORBIDDEN unless network.admin or metrics.
  Result<Principal> authenticate_metrics(std::string_view authorization_header) const;

  // The same from a request, noting on it who it acts for (Request::set_principal) as soon as
  // the credential is known, refused or not: the access log and the change log name it.
  Result<Principal> authenticate(const http::Request& request) const;
  Result<Principal> authenticate_internal(const http::Request& request) const;
  Result<Principal> authenticate_metrics(const http::Request& request) const;

  // A new random token; only its hash is stored. INVALID_SCOPE, INVALID_ACCOUNT_ID,
  // MISSING_FIELD (a cell token names its cell), INVALID_CELL_NAME, INVALID_FIELD_COMBINATION,
  // INVALID_EXPIRES_IN.
  Result<IssuedToken> issue(TokenGrant grant);
  Result<std::vector<TokenRecord>> list() const;
  // Stops the token at once. TOKEN_NOT_FOUND; LAST_ADMIN_TOKEN when it is the last admin
  // token that has not expired (revoking it would lock every operator out).
  Result<void> revoke(std::string_view id);
  // A new admin token written to <data_dir>/admin-token (mode 0600); the token the file held
  // is revoked. `revoked` is its id, or empty when the file held no live token.
  Result<IssuedToken> rotate_admin(std::string& revoked);

  // On first start (no token in the store) writes an admin token to <data_dir>/admin-token
  // with mode 0600 and returns the path; otherwise returns an empty path. Either way the
  // data dir is remembered for rotate_admin().
  Result<std::filesystem::path> bootstrap_admin(const std::filesystem::path& data_dir);

  static std::string hash(std::string_view token);

 private:
  // A token found in the store, as the cache keeps it.
  struct KnownToken {
    Principal principal;
    std::optional<int64_t> expires_at;
    int64_t last_used_at = 0;  // as written to the store, 0 = never
    int64_t found_at = 0;      // when it was read from the store, unix seconds
  };

  Result<Principal> identify(std::string_view authorization_header) const;
  // identify(), then notes the name on the request.
  Result<Principal> identify(const http::Request& request) const;
  // The scope checks of each authenticate*().
  static Result<Principal> external_only(Principal who);
  static Result<Principal> internal_only(Principal who);
  static Result<Principal> metrics_only(Principal who);
  Result<IssuedToken> insert(TokenRecord record, std::string secret);
  // Writes the token's last use when the one stored is older than the granularity.
  void note_use(const std::string& digest, int64_t now) const;

  // Tokens already found in the store: hash → what they may do. Whatever removes a token
  // (revoke, rotation) calls forget_tokens(), so a revoked token stops at its next request.
  void forget_tokens() const;

  Store& store_;
  bool insecure_;
  std::filesystem::path admin_token_file_;  // set by bootstrap_admin()
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, KnownToken> cache_;
  mutable uint64_t generation_ = 0;  // counts forget_tokens(), under cache_mutex_
};

}  // namespace wiretag
