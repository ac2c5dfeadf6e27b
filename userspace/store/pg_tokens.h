// The tokens table (bearer tokens, stored as hashes) on PostgreSQL: the SQL behind StoreTx's
// token methods in PgStore.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/pg_connection.h"
#include "store/store.h"

namespace wiretag::pg_tokens {

Result<std::optional<TokenRecord>> find(pg::Connection& c, std::string_view hash);
Result<void> insert(pg::Connection& c, const TokenRecord& t);
// Oldest first.
Result<std::vector<TokenRecord>> list(pg::Connection& c);
// False when no token has that id.
Result<bool> remove(pg::Connection& c, std::string_view id);
Result<void> set_last_used(pg::Connection& c, std::string_view hash, int64_t at);

}  // namespace wiretag::pg_tokens
