// The SQLite store's schema: its migrations, applied in order at open (append only: a released
// schema version is never edited; each new one takes the next number).
#pragma once

#include <cstdint>
#include <span>

namespace wiretag::sqlite {

struct Migration {
  int64_t version;
  const char* sql;
};

std::span<const Migration> migrations();

}  // namespace wiretag::sqlite
