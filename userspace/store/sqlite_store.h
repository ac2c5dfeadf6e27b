// The Store on an embedded SQLite database in the data dir: WAL with synchronous=FULL, so a
// committed transaction survives a crash; schema versions recorded in schema_migrations.
// Writes are group-committed: one committer thread runs every write queued meanwhile, each in
// its own SAVEPOINT of one transaction, and answers them after that transaction's one fsync.
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
  void transact_async(WriteFn fn, WriteDone done) override;

  // The schema version now in effect (the highest migration applied).
  Result<int64_t> schema_version();

  struct Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wiretag
