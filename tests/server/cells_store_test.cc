// The cells table (core/ports/cells.h) on both stores, and CellRegistry over it as two servers
// on one database use it: what one hears the other lists alike; heartbeats log no change.
#include <gtest/gtest.h>

#include "core/cell_registry.h"
#include "core/cell_report_codec.h"
#include "store/pg_cells.h"
#include "store/sqlite_cells.h"
#include "store_backends.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

using test::Backend;
using test::StoreLocation;

CellReport report(const std::string& name, int64_t interval_ms) {
  CellReport r;
  r.name = name;
  r.pdp_type = "tc";
  r.pdp_group = "defaultGroup";
  r.pdp_subgroup = "tc";
  r.state = "ACTIVE";
  r.healthy = "HEALTHY";
  r.heartbeat_interval_ms = interval_ms;
  return r;
}

class CellsStores : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto s = location_.open();  // migrates
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  // Another connection to the cells table, as another server has.
  std::unique_ptr<CellsPort> cells() {
    auto c = GetParam() == Backend::Sqlite ? open_sqlite_cells(dir_.path())
                                           : open_pg_cells(location_.url());
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }
  Result<int64_t> revision() {
    return store_->read<int64_t>([](StoreTx& tx) { return tx.revision(); });
  }
  test::TempDir dir_;
  StoreLocation location_{GetParam(), dir_.path()};
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CellsStores, test::kBackends, test::backend_name);

TEST_P(CellsStores, AnUpsertRegistersOrReplacesAndTheListIsByName) {
  auto a = cells();
  auto b = cells();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->upsert_cell_report({"c2", "{\"x\":1}", 1000, 5000}));
  ASSERT_TRUE(a->upsert_cell_report({"c1", "{\"x\":2}", 100, 6000}));
  ASSERT_TRUE(b->upsert_cell_report({"c2", "{\"x\":3}", 2000, 7000}));
  auto listed = a->cells();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(*listed, (std::vector<CellRecord>{{"c1", "{\"x\":2}", 100, 6000},
                                              {"c2", "{\"x\":3}", 2000, 7000}}));
  EXPECT_EQ(*b->cells(), *listed);
}

TEST_P(CellsStores, ForgettingRemovesOnlyTheCellsPastExpiryAndRetention) {
  auto c = cells();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->upsert_cell_report({"old", "{}", 1000, 10'000}));  // expired at 13'000
  ASSERT_TRUE(c->upsert_cell_report({"new", "{}", 1000, 20'000}));
  // Expired for exactly the retention: kept.
  EXPECT_EQ(*c->forget_cells(13'000 + 500, 500), 0);
  EXPECT_EQ(*c->forget_cells(13'000 + 501, 500), 1);
  auto listed = c->cells();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "new");
}

TEST_P(CellsStores, HeartbeatsAppendNothingToTheChangeLog) {
  auto before = revision();
  ASSERT_TRUE(before);
  int64_t observed = 0;
  store_->add_commit_observer([&](int64_t) { ++observed; });
  auto c = cells();
  CellRegistry registry([] { return int64_t{1000}; }, CellRegistry::kDefaultRetentionMs, *c);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(registry.report(report("c1", 1000)));
  EXPECT_EQ(*revision(), *before);
  EXPECT_EQ(observed, 0);
}

// Two servers' registries on one database, one clock.
TEST_P(CellsStores, TwoRegistriesOnOneDatabaseAnswerAlike) {
  int64_t now = 1'000'000;
  auto store_a = cells();
  auto store_b = cells();
  ASSERT_TRUE(store_a && store_b);
  CellRegistry a([&] { return now; }, /*retention_ms=*/10'000, *store_a, /*refresh_ms=*/100);
  CellRegistry b([&] { return now; }, /*retention_ms=*/10'000, *store_b, /*refresh_ms=*/100);
  EXPECT_TRUE(b.list().empty());  // B has read the (empty) table now
  auto r = report("c1", 1000);
  r.description = "from A";
  r.revision = 7;
  r.datapath = DatapathCounters{1, 2, 3, 4};
  ASSERT_TRUE(a.report(r));
  EXPECT_TRUE(a.find("c1")) << "A knows its own heartbeat at once";
  now += 100;  // B reads the table again at most refresh_ms after its last read
  auto seen = b.find("c1");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->report.description, "from A");
  EXPECT_EQ(seen->report.revision, 7);
  EXPECT_EQ(seen->report.datapath, (DatapathCounters{1, 2, 3, 4}));
  EXPECT_EQ(seen->last_heartbeat_ms, 1'000'000);
  EXPECT_TRUE(seen->healthy);
  // No more heartbeats: both call it expired from the same stored time and interval.
  now = 1'000'000 + 3001;
  for (CellRegistry* s : {&a, &b}) {
    auto c = s->find("c1");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->expired);
    EXPECT_FALSE(c->healthy);
  }
  // It reports to B now: A sees it back.
  ASSERT_TRUE(b.report(report("c1", 1000)));
  now += 100;
  EXPECT_TRUE(a.find("c1")->healthy);
  EXPECT_EQ(a.find("c1")->report.description, "");
  // Forgotten after the retention, by both; B's retention removes the row.
  now += 3000 + 10'000 + 1;
  EXPECT_FALSE(a.find("c1"));
  EXPECT_FALSE(b.find("c1"));
  EXPECT_EQ(b.evict_expired(), 1u);
  EXPECT_TRUE(store_a->cells()->empty());
}

// The `vteps` answer (every cell's VTEPs, what the XDP gates believe) is the same from every
// server of one database: the cells table keeps a report's VTEP addresses.
TEST_P(CellsStores, TwoRegistriesOnOneDatabaseAnswerTheSameVteps) {
  int64_t now = 1'000'000;
  auto store_a = cells();
  auto store_b = cells();
  ASSERT_TRUE(store_a && store_b);
  CellRegistry a([&] { return now; }, /*retention_ms=*/10'000, *store_a, /*refresh_ms=*/100);
  CellRegistry b([&] { return now; }, /*retention_ms=*/10'000, *store_b, /*refresh_ms=*/100);
  EXPECT_TRUE(b.vteps().empty());
  auto c1 = report("c1", 1000);
  c1.vtep_addresses = {"198.18.0.1", "2001:2::1"};
  ASSERT_TRUE(a.report(c1));
  auto c2 = report("c2", 1000);
  c2.vtep_addresses = {"198.18.0.2"};
  ASSERT_TRUE(b.report(c2));
  now += 100;
  const std::vector<std::string> all = {"198.18.0.1", "198.18.0.2", "2001:2::1"};
  EXPECT_EQ(a.vteps(), all);
  EXPECT_EQ(b.vteps(), all);
  EXPECT_EQ(b.find("c1")->report.vtep_addresses, c1.vtep_addresses);
}

TEST(CellReportCodec, EveryFieldRoundTrips) {
  CellReport r = report("c1", 2500);
  r.pdp_subgroup = "xdp";
  r.description = "d";
  r.deployment_instance_info = "wiretag-agent 0.1.0";
  r.policies = {{"p1", "1.0.0"}, {"p2", "3.0.0"}};
  r.statistics = nlohmann::json{{"policyDeployCount", 3}};
  r.revision = 42;
  r.datapath = DatapathCounters{1, 2, 3, 4};
  r.failed_policies = {{"p3", "1.0.0", "MAP_FULL: x"}};
  r.response = PdpResponse{"req-1", "SUCCESS", "ok"};
  r.hosted_apps = {"a", "b"};
  r.vtep_addresses = {"198.18.0.1", "2001:2::1"};
  auto back = decode_cell_report(encode_cell_report(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(encode_cell_report(*back), encode_cell_report(r));
  EXPECT_EQ(back->policies, r.policies);
  EXPECT_EQ(back->failed_policies, r.failed_policies);
  EXPECT_EQ(back->response->response_to, "req-1");
  EXPECT_EQ(back->statistics, r.statistics);
  EXPECT_EQ(back->vtep_addresses, r.vtep_addresses);
  // A row of a server before the gate: no VTEPs.
  auto old = nlohmann::json::parse(encode_cell_report(report("c0", 1000)));
  old.erase("vtep_addresses");
  auto old_back = decode_cell_report(old.dump());
  ASSERT_TRUE(old_back);
  EXPECT_TRUE(old_back->vtep_addresses.empty());
  EXPECT_FALSE(decode_cell_report("not json"));
  EXPECT_FALSE(decode_cell_report(R"({"name":"c1"})"));
}

}  // namespace
}  // namespace wiretag
