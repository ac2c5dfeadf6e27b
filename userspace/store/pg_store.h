// The Store on a PostgreSQL database (libpq), for deployments that run several servers on one
// database (docs/ops.md). The same schema versions as SqliteStore (pg_migrations.cc) and the
// same behaviour:
// - Writes are group-committed as in SqliteStore: one committer thread runs every write queued
//   meanwhile, each in its own SAVEPOINT of one transaction, and answers them after its COMMIT.
// - Every write transaction first takes one transaction-scoped advisory lock, so the write
//   transactions of all servers on the database run one at a time, as SQLite's one writer:
//   revisions are handed out (change_sequence) and committed in the same order, and tag
//   allocation and refid rules see every earlier commit.
// - Reads run in REPEATABLE READ READ ONLY transactions on a few reader connections: one
//   consistent snapshot, never waiting for a write.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace wiretag {

class PgStore : public Store {
 public:
  // Connects to the database at `url` (a libpq URL or conninfo) and applies pending migrations
  // (under an advisory lock: servers starting together migrate once). DB_UNREACHABLE when it
  // cannot connect.
  static Result<std::unique_ptr<PgStore>> open(const std::string& url);
  ~PgStore() override;

  Result<void> transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) override;
  void transact_async(WriteFn fn, WriteDone done) override;

  // The schema version now in effect (the highest migration applied).
  Result<int64_t> schema_version();

  // From now on the commits of other servers on the same database reach this store's commit
  // observers too (LISTEN/NOTIFY, pg_change_listener.h), from a thread of the store's. Call
  // once every observer is added.
  void follow_other_servers();

  struct Impl;

 private:
  explicit PgStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wiretag
