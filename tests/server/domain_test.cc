// The domain's cases (tests/unit/domain_cases.inc, which domain_tests runs in memory) over
// real stores: SqliteStore in a temp dir and PgStore on a private PostgreSQL cluster.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/policy_graph.h"
#include "core/tag_space.h"
#include "store/sqlite_store.h"
#include "store_backends.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

#include "../unit/domain_cases.inc"

// Each data name is a store location (a SQLite data dir, a PostgreSQL database); every open is
// another connection to it.
class BackendSource : public StoreSource {
 public:
  explicit BackendSource(test::Backend backend) : backend_(backend) {}
  Result<std::unique_ptr<Store>> open(const std::string& data) override {
    auto [at, fresh] = locations_.try_emplace(data, backend_, dir_.path() / data);
    return at->second.open();
  }

 private:
  test::Backend backend_;
  test::TempDir dir_;
  std::map<std::string, test::StoreLocation> locations_;
};

std::unique_ptr<StoreSource> make_store_source(const std::string& backend) {
  return std::make_unique<BackendSource>(backend == "Postgresql" ? test::Backend::Postgresql
                                                                 : test::Backend::Sqlite);
}

INSTANTIATE_TEST_SUITE_P(Backends, Graph, ::testing::Values("Sqlite", "Postgresql"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, WhitelistIndexOn, ::testing::Values("Sqlite", "Postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace wiretag
