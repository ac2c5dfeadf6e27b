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
//
// A library of its own (wiretag_pg_cluster, no test framework): the tests and the scale-out
// bench (bench/scaleout_bench.cc) start their clusters with it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::test {

class PgCluster {
 public:
  struct Options {
    // false (tests): the postmaster runs with fsync off, as the tests do not crash the host.
    // true: PostgreSQL's defaults (fsync, synchronous_commit), a commit is durable as with
    // SQLite's synchronous=FULL: what a benchmark that compares the two needs.
    bool durable = false;
    int max_connections = 300;
  };
  PgCluster() : PgCluster(Options{}) {}
  explicit PgCluster(const Options& options);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // false when PostgreSQL could not start: error() says why. Tests must then fail, not skip.
  bool started() const { return started_; }
  const std::string& error() const { return error_; }

  // The URL of a new, empty database in the cluster (named `name`, or a fresh name).
  Result<std::string> create_database(const std::string& name = "");
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

}  // namespace wiretag::test
