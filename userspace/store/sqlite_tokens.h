// The tokens table (bearer tokens, stored as hashes): the SQL behind StoreTx's token methods.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/sqlite_statement.h"
#include "store/store.h"

namespace wiretag::sqlite_tokens {

Result<std::optional<TokenRecord>> find(const sqlite::Statements& st, std::string_view hash);
Result<void> insert(const sqlite::Statements& st, const TokenRecord& t);
// Oldest first.
Result<std::vector<TokenRecord>> list(const sqlite::Statements& st);
// False when no token has that id.
Result<bool> remove(const sqlite::Statements& st, std::string_view id);
Result<void> set_last_used(const sqlite::Statements& st, std::string_view hash, int64_t at);

}  // namespace wiretag::sqlite_tokens
