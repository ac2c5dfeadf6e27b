// The Store on an embedded SQLite database in the data dir: WAL with synchronous=FULL, so a
// committed transaction survives a crash; schema versions recorded in schema_migrations.
#pragma once

#include <filesystem>
#include <memory>

#include "store/store.h"

namespace wiretag {

class SqliteStore : public Store {
 public:
  // Opens (creating) <data_dir>/wiretag.db and applies pending migrations.
  static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& data_dir);
  ~SqliteStore() override;

  Result<void> transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) override;

  // The schema version now in effect (the highest migration applied).
  Result<int64_t> schema_version();

  struct Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wiretag
