// The PostgreSQL store's schema: the same versions as sqlite_migrations.cc (1..6 and after),
// in PostgreSQL's dialect, applied in order at open (append only: a released version is never
// edited; each new one takes the next number in both files).
#pragma once

#include <span>

#include "store/sqlite_migrations.h"

namespace wiretag::pg {

using Migration = sqlite::Migration;

std::span<const Migration> migrations();

}  // namespace wiretag::pg
