// A private PostgreSQL cluster for tests: made with initdb (Debian's postgresql package) in a
// fresh temp dir, started with pg_ctl listening only on a unix socket in that dir (no TCP
// port), stopped and removed with the dir when the PgCluster goes away.
//
// As root (initdb refuses root), the cluster's commands run as the `postgres` user that the
// postgresql package creates, and the temp dir is handed to it; as any other user, as that
// user. A watchdog process removes the cluster also when the test process dies without
// unwinding (abort, SIGKILL).
//
// initdb runs once per build: the first cluster's fresh data dir is kept as a template under
// the build dir (WIRETAG_PG_TEMPLATE_DIR) and later clusters start from a copy of it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace wiretag::test {

class PgCluster {
 public:
  PgCluster();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // false when PostgreSQL could not start: error() says why. Tests must then fail, not skip.
  bool started() const { return started_; }
  const std::string& error() const { return error_; }

  // The URL of a new, empty database in the cluster (named `name`, or a fresh name).
  std::string create_database(const std::string& name = "");
  // The URL of database `db`.
  std::string url(const std::string& db) const;

  // The cluster this process's tests share, started at first use, removed at exit.
  static PgCluster& shared();

 private:
  // Runs argv to completion, output to log; as the cluster's user when as_owner.
  bool run(const std::vector<std::string>& argv, const std::string& log, bool as_owner);
  std::filesystem::path dir_;
  bool started_ = false;
  std::string error_;
  pid_t watchdog_ = -1;
  int watchdog_pipe_ = -1;
  int databases_ = 0;
};

// (pg_test_db.cc) The database URL a test server should get, per WIRETAG_TEST_DB: "" (SQLite, the
// default) or, for "postgresql", a fresh database of the shared cluster for each data dir (the same
// one again when a server restarts on that data dir).
std::string test_db_url_for(const std::filesystem::path& data_dir);

}  // namespace wiretag::test
