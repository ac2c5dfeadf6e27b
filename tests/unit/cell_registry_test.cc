// CellRegistry over the cells port (core/ports/cells.h) in memory: the domain's side of "every
// server on one database knows every cell" — write-through, read-back, expiry from the stored
// heartbeat, a port that fails. The backends run the same through tests/server/cells_store_test.
#include "core/cell_registry.h"

#include <gtest/gtest.h>

#include "core/cell_report_codec.h"
#include "core/testing/memory_cells.h"

namespace wiretag {
namespace {

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

TEST(CellRegistryOverThePort, AHeartbeatIsOneRowWithTheReportAndTheReceivingServersTime) {
  MemoryCells port;
  CellRegistry registry([] { return int64_t{5000}; }, CellRegistry::kDefaultRetentionMs, port);
  auto r = report("c1", 1000);
  r.revision = 3;
  ASSERT_TRUE(registry.report(r));
  ASSERT_TRUE(registry.report(r));
  auto rows = port.cells();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (CellRecord{"c1", encode_cell_report(r), 1000, 5000}));
}

// Two servers' registries over one table, one clock.
TEST(CellRegistryOverThePort, TwoRegistriesReadEachOthersHeartbeatsWithinTheRefresh) {
  int64_t now = 1'000'000;
  MemoryCells port;
  CellRegistry a([&] { return now; }, /*retention_ms=*/10'000, port, /*refresh_ms=*/100);
  CellRegistry b([&] { return now; }, /*retention_ms=*/10'000, port, /*refresh_ms=*/100);
  EXPECT_TRUE(b.list().empty());  // B read the (empty) table now
  auto r = report("c1", 1000);
  r.description = "from A";
  ASSERT_TRUE(a.report(r));
  EXPECT_TRUE(a.find("c1")) << "A knows its own heartbeat at once";
  now += 99;
  EXPECT_FALSE(b.find("c1")) << "B reads the table again only refresh_ms after its last read";
  now += 1;
  auto seen = b.find("c1");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->report.description, "from A");
  EXPECT_EQ(seen->last_heartbeat_ms, 1'000'000);
  EXPECT_TRUE(seen->healthy);
  // Silent for 3 intervals: expired on both, from the stored time and interval.
  now = 1'000'000 + 3001;
  for (CellRegistry* s : {&a, &b}) {
    auto c = s->find("c1");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->expired);
    EXPECT_FALSE(c->healthy);
  }
  // It reports to B: A sees it healthy again.
  ASSERT_TRUE(b.report(report("c1", 1000)));
  now += 100;
  ASSERT_TRUE(a.find("c1"));
  EXPECT_TRUE(a.find("c1")->healthy);
  EXPECT_EQ(a.find("c1")->report.description, "");
  // Past expiry and retention: in neither list; B's retention removes the row.
  now += 3000 + 10'000 + 1;
  EXPECT_FALSE(a.find("c1"));
  EXPECT_TRUE(b.list().empty());
  EXPECT_EQ(b.evict_expired(), 1u);
  EXPECT_TRUE(port.cells()->empty());
}

TEST(CellRegistryOverThePort, ARestartedServerKnowsTheCellsOfTheTableAtOnce) {
  int64_t now = 1'000'000;
  MemoryCells port;
  {
    CellRegistry before([&] { return now; }, CellRegistry::kDefaultRetentionMs, port, -1);
    ASSERT_TRUE(before.report(report("c1", 1000)));
  }
  now += 500;
  // Read once (refresh_ms < 0: no other server writes this table).
  CellRegistry after([&] { return now; }, CellRegistry::kDefaultRetentionMs, port, -1);
  auto c = after.find("c1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->last_heartbeat_ms, 1'000'000);
  EXPECT_TRUE(c->healthy);
}

TEST(CellRegistryOverThePort, AHeartbeatThePortRefusesIsAnErrorAndTheCellStaysUnknown) {
  MemoryCells port;
  CellRegistry registry([] { return int64_t{0}; }, CellRegistry::kDefaultRetentionMs, port);
  port.fail_with(Error{"STORE_ERROR", "database gone"});
  auto r = registry.report(report("c1", 1000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "STORE_ERROR");
  port.fail_with(std::nullopt);
  EXPECT_FALSE(registry.find("c1"));
  EXPECT_TRUE(port.cells()->empty());
}

TEST(CellRegistryOverThePort, WhileThePortFailsTheCellsAsLastReadStand) {
  int64_t now = 1'000'000;
  MemoryCells port;
  CellRegistry a([&] { return now; }, CellRegistry::kDefaultRetentionMs, port, 100);
  CellRegistry b([&] { return now; }, CellRegistry::kDefaultRetentionMs, port, 100);
  ASSERT_TRUE(a.report(report("c1", 60'000)));
  ASSERT_EQ(b.list().size(), 1u);
  port.fail_with(Error{"STORE_ERROR", "database gone"});
  now += 1000;
  ASSERT_EQ(b.list().size(), 1u);
  EXPECT_TRUE(b.find("c1")->healthy);
  EXPECT_EQ(b.evict_expired(), 0u);
}

}  // namespace
}  // namespace wiretag
