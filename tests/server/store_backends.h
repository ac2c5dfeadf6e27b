// The two Store implementations, for tests that run against both: parameterize a test over
// kBackends and open its store through a StoreLocation.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "pg_cluster.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace wiretag::test {

enum class Backend { Sqlite, Postgresql };

inline const auto kBackends = ::testing::Values(Backend::Sqlite, Backend::Postgresql);
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "Sqlite" : "Postgresql";
}

// Where one store lives, opened as often as a test likes: a data dir (SQLite), or a fresh
// database of this process's PostgreSQL cluster (PgCluster::shared()), made at first open.
class StoreLocation {
 public:
  StoreLocation(Backend backend, std::filesystem::path data_dir)
      : backend_(backend), data_dir_(std::move(data_dir)) {}

  Result<std::unique_ptr<Store>> open() {
    if (backend_ == Backend::Sqlite) {
      auto s = SqliteStore::open(data_dir_);
      if (!s) return s.error();
      return std::unique_ptr<Store>(std::move(*s));
    }
    if (url_.empty()) {
      PgCluster& cluster = PgCluster::shared();
      // No PostgreSQL is a failure, never a skip.
      if (!cluster.started()) return Error{"NO_POSTGRESQL", cluster.error()};
      auto url = cluster.create_database();
      if (!url) return url.error();
      url_ = *url;
    }
    auto s = PgStore::open(url_);
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }

  static Result<int64_t> schema_version(Store& store) {
    if (auto* s = dynamic_cast<SqliteStore*>(&store)) return s->schema_version();
    if (auto* p = dynamic_cast<PgStore*>(&store)) return p->schema_version();
    return Error{"UNKNOWN_STORE", "neither SqliteStore nor PgStore"};
  }

  Backend backend() const { return backend_; }
  const std::string& url() const { return url_; }

 private:
  Backend backend_;
  std::filesystem::path data_dir_;
  std::string url_;
};

}  // namespace wiretag::test
