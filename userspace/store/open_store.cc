#include "store/open_store.h"

#include "common/private_files.h"

#include "store/pg_connection.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace wiretag {

bool is_postgresql_url(std::string_view db_url) {
  return db_url.starts_with("postgresql://") || db_url.starts_with("postgres://");
}

void follow_other_servers(Store& store) {
  if (auto* pg = dynamic_cast<PgStore*>(&store)) pg->follow_other_servers();
}

Result<std::unique_ptr<Store>> open_store(const std::string& db_url,
                                          const std::filesystem::path& data_dir) {
  if (db_url == "sqlite") {
    auto s = SqliteStore::open(data_dir);
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (!is_postgresql_url(db_url))
    return Error{"DB_URL_INVALID", "--db \"" + pg::redacted(db_url) +
                                       "\": expected sqlite, postgresql://… or postgres://…"};
  // libpq rejects a malformed URL itself; its message says what is wrong.
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(db_url.c_str(), &err);
  if (!parsed) {
    std::string msg = err ? err : "cannot parse";
    PQfreemem(err);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Error{"DB_URL_INVALID", "--db \"" + pg::redacted(db_url) + "\": " + msg};
  }
  PQconninfoFree(parsed);
  // The data dir still holds secrets (admin-token, policy-key-secret): the service's user only.
  if (auto r = ensure_private_dir(data_dir); !r) return Error{"STORE_ERROR", r.error().message};
  auto s = PgStore::open(db_url);
  if (!s) return s.error();
  return std::unique_ptr<Store>(std::move(*s));
}

}  // namespace wiretag
