// WIRETAG_TEST_DB=postgresql for the tests of the binary over HTTP: each ServerProcess runs
// on a fresh database of this process's private cluster (pg_cluster.h). Link this file (with
// pg_cluster.cc) into a test binary to let it run that way.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "pg_cluster.h"
#include "server_process.h"

namespace wiretag::test {

// The database URL a test server should get, per WIRETAG_TEST_DB: "" (SQLite, the default) or,
// for "postgresql", a fresh database of the shared cluster for each data dir (the same one again
// when a server restarts on that data dir).
std::string test_db_url_for(const std::filesystem::path& data_dir) {
  const char* which = std::getenv("WIRETAG_TEST_DB");
  if (!which || !*which || std::string_view(which) == "sqlite") return "";
  EXPECT_EQ(std::string_view(which), "postgresql") << "WIRETAG_TEST_DB: sqlite or postgresql";
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::string> urls;
  std::lock_guard lock(mutex);
  PgCluster& cluster = PgCluster::shared();
  if (!cluster.started()) {
    ADD_FAILURE() << "PostgreSQL did not start: " << cluster.error();
    return "postgresql:///no-cluster?host=/nonexistent";
  }
  auto [it, fresh] = urls.try_emplace(data_dir);
  if (fresh) {
    auto url = cluster.create_database();
    EXPECT_TRUE(url) << url.error().message;
    it->second = url ? *url : "postgresql:///no-database?host=/nonexistent";
  }
  return it->second;
}

// Linked into a test binary, ServerProcess asks here under WIRETAG_TEST_DB=postgresql.
const bool kHooked = [] {
  test_db_url_hook() = &test_db_url_for;
  return true;
}();

}  // namespace wiretag::test
