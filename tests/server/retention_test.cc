// Retention (issue 14 item 16): the change log compacted behind a horizon, the PAP audit
// pruned by count and age, on real stores (SQLite and PostgreSQL, parameterized) with
// injected clocks.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "core/log_retention.h"
#include "core/policy_graph.h"
#include "store/sqlite_store.h"
#include "store_backends.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

struct Fixture {
  test::TempDir dir;
  test::StoreLocation location;
  std::unique_ptr<Store> store;
  std::optional<PolicyGraph> graph;

  explicit Fixture(test::Backend backend) : location(backend, dir.path()) {
    auto s = location.open();
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return;
    store = std::move(*s);
    PolicyGraphOptions o;
    o.in_memory_index = true;
    o.index.poll_interval = std::chrono::milliseconds(0);  // sees other processes' writes
    auto g = PolicyGraph::open(*store, o);
    EXPECT_TRUE(g) << g.error().message;
    graph.emplace(std::move(*g));
  }
  void register_apps(int n, int from = 0) {
    for (int i = from; i < from + n; ++i)
      ASSERT_TRUE(graph->register_app("default", "app" + std::to_string(i)));
  }
  int64_t unix_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class Retention : public ::testing::TestWithParam<test::Backend> {};
INSTANTIATE_TEST_SUITE_P(Backends, Retention, test::kBackends, test::backend_name);

RetentionPolicy changelog_only(int64_t revisions, int64_t seconds) {
  return RetentionPolicy{revisions, seconds, 0, 0};
}

TEST_P(Retention, TheChangeLogKeepsItsNewestRevisionsAndReadsBeforeTheHorizonGetNone) {
  Fixture f(GetParam());
  ASSERT_TRUE(f.store && f.graph);
  f.register_apps(50);
  ASSERT_EQ(*f.graph->revision(), 50);
  LogRetention retention(*f.store, changelog_only(10, 0),
                         [&] { return f.graph->compaction_floor(); });
  auto run = retention.run();
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->changes_removed, 40);
  EXPECT_EQ(run->horizon, 40);

  // Before the horizon: no changes and the horizon, so the API answers resync.
  for (int64_t since : {0, 1, 39}) {
    auto batch = f.graph->change_batch(since, 1000);
    ASSERT_TRUE(batch);
    EXPECT_TRUE(batch->changes.empty()) << since;
    EXPECT_EQ(batch->horizon, 40);
    EXPECT_EQ(batch->revision, 50);
  }
  auto kept = f.graph->change_batch(40, 1000);
  ASSERT_EQ(kept->changes.size(), 10u);
  EXPECT_EQ(kept->changes.front().revision, 41);

  EXPECT_EQ(retention.run()->changes_removed, 0) << "nothing more to do";
  // Revisions are never reused, and the in-memory index still follows the log.
  f.register_apps(1, 50);
  EXPECT_EQ(*f.graph->revision(), 51);
  EXPECT_TRUE(f.graph->app("app50"));
  EXPECT_TRUE(f.graph->app("app0"));
}

TEST_P(Retention, TheChangeLogByAgeWithAnInjectedClock) {
  Fixture f(GetParam());
  ASSERT_TRUE(f.store && f.graph);
  f.register_apps(20);
  int64_t now_ms = f.unix_ms();
  LogRetention retention(
      *f.store, changelog_only(0, 7 * 86400), [&] { return f.graph->compaction_floor(); },
      [&] { return now_ms; });
  EXPECT_EQ(retention.run()->changes_removed, 0) << "all younger than 7 days";
  now_ms += 8 * 86400 * 1000LL;
  auto run = retention.run();
  ASSERT_TRUE(run);
  EXPECT_EQ(run->changes_removed, 20);
  EXPECT_EQ(run->horizon, 20);
  auto batch = f.graph->change_batch(20, 1000);
  EXPECT_TRUE(batch->changes.empty());
  EXPECT_EQ(batch->horizon, 20) << "a reader at the revision needs nothing compacted";
}

TEST_P(Retention, TheChangeLogIsNeverCompactedPastTheFloor) {
  Fixture f(GetParam());
  ASSERT_TRUE(f.store && f.graph);
  f.register_apps(30);
  LogRetention retention(*f.store, changelog_only(1, 0), [] { return Result<int64_t>(12); });
  EXPECT_EQ(retention.run()->horizon, 12);
}

TEST_P(Retention, AnIndexBehindTheHorizonFailsInsteadOfServingStaleWhitelists) {
  Fixture f(GetParam());
  ASSERT_TRUE(f.store && f.graph);
  f.register_apps(3);
  ASSERT_TRUE(f.graph->app("app0"));
  // Another process writes and compacts past what this server's index has read.
  auto other = f.location.open();
  ASSERT_TRUE(other);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*other)->write<void>([&](StoreTx& tx) -> Result<void> {
      auto r = tx.append_change({0, "app.deleted", "default", "nobody", "{}"});
      if (!r) return r.error();
      return Ok();
    }));
  ASSERT_TRUE(LogRetention(**other, changelog_only(1, 0)).run());
  auto app = f.graph->app("app0");
  ASSERT_FALSE(app);
  EXPECT_EQ(app.error().code, "INDEX_BEHIND_HORIZON");
}

Result<void> audit(Store& store, int64_t at_ms) {
  return store.write<void>([&](StoreTx& tx) -> Result<void> {
    PapAuditRecord r{0, "g", "tc", "p", "1.0.0", "DEPLOYMENT", "", "admin", at_ms};
    auto id = tx.append_pap_audit(r);
    if (!id) return id.error();
    return Ok();
  });
}

std::vector<int64_t> audit_times(Store& store) {
  PapAuditQuery q;
  q.limit = 1000;
  auto all = store.read<std::vector<PapAuditRecord>>([&](StoreTx& tx) { return tx.pap_audit(q); });
  std::vector<int64_t> out;
  for (const PapAuditRecord& r : *all) out.push_back(r.at_ms);
  return out;  // newest first
}

TEST_P(Retention, ThePapAuditIsPrunedByCountAndByAge) {
  Fixture f(GetParam());
  ASSERT_TRUE(f.store && f.graph);
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(audit(*f.store, i * 1000));
  int64_t now_ms = 30'000;
  {
    LogRetention by_count(*f.store, RetentionPolicy{0, 0, 10, 0}, {}, [&] { return now_ms; });
    EXPECT_EQ(by_count.run()->audit_removed, 20);
    auto left = audit_times(*f.store);
    ASSERT_EQ(left.size(), 10u);
    EXPECT_EQ(left.front(), 30'000);
    EXPECT_EQ(left.back(), 21'000);
  }
  {
    LogRetention by_age(*f.store, RetentionPolicy{0, 0, 0, 5}, {}, [&] { return now_ms; });
    EXPECT_EQ(by_age.run()->audit_removed, 4) << "older than 25 s";
    EXPECT_EQ(audit_times(*f.store),
              (std::vector<int64_t>{30'000, 29'000, 28'000, 27'000, 26'000, 25'000}));
    now_ms += 2'000;
    EXPECT_EQ(by_age.run()->audit_removed, 2);
    EXPECT_EQ(audit_times(*f.store).size(), 4u);
  }
}

}  // namespace
}  // namespace wiretag
