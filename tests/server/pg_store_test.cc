// Several stores on one PostgreSQL database, as several servers are (issue 20): commits of one
// reach the commit observers of the others (LISTEN/NOTIFY), concurrent writers through
// different stores keep revisions gapless and in commit order and tags distinct.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "core/policy_graph.h"
#include "pg_cluster.h"

namespace wiretag {
namespace {

std::unique_ptr<PgStore> open_pg(const std::string& url) {
  auto s = PgStore::open(url);
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : nullptr;
}

std::string fresh_database() {
  test::PgCluster& cluster = test::PgCluster::shared();
  EXPECT_TRUE(cluster.started()) << cluster.error();  // no PostgreSQL: fail, never skip
  if (!cluster.started()) return "";
  auto url = cluster.create_database();
  EXPECT_TRUE(url) << url.error().message;
  return url ? *url : "";
}

TEST(PgStores, ACommitThroughOneReachesTheObserversOfAnother) {
  const std::string url = fresh_database();
  ASSERT_FALSE(url.empty());
  auto writer = open_pg(url);
  auto follower = open_pg(url);
  ASSERT_TRUE(writer && follower);
  std::mutex mutex;
  std::condition_variable cv;
  int64_t heard = 0;
  follower->add_commit_observer([&](int64_t revision) {
    std::lock_guard lock(mutex);
    heard = std::max(heard, revision);
    cv.notify_all();
  });
  follower->follow_other_servers();
  for (int i = 1; i <= 3; ++i) {
    auto rev = writer->write<int64_t>([](StoreTx& tx) {
      return tx.append_change({0, "app.created", "default", "x", "{}"});
    });
    ASSERT_TRUE(rev) << rev.error().message;
    EXPECT_EQ(*rev, i);
    // A state, not a time: the follower's observer hears revision i (the bound only ends a
    // failing run).
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return heard >= i; })) << i;
  }
  // A write that appended nothing notifies nobody; the next revision is still 4.
  ASSERT_TRUE(writer->write<void>([](StoreTx& tx) { return tx.set_meta("k", "v"); }));
  auto rev = writer->write<int64_t>([](StoreTx& tx) {
    return tx.append_change({0, "k", "default", "x", "{}"});
  });
  EXPECT_EQ(*rev, 4);
  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return heard >= 4; }));
}

TEST(PgStores, ConcurrentGraphsOnTwoStoresHandOutDistinctTagsAndGaplessRevisions) {
  const std::string url = fresh_database();
  ASSERT_FALSE(url.empty());
  auto one = open_pg(url);
  auto two = open_pg(url);
  ASSERT_TRUE(one && two);
  PolicyGraphOptions o;
  o.tag_length = 2;
  auto g1 = PolicyGraph::open(*one, o);
  auto g2 = PolicyGraph::open(*two, o);
  ASSERT_TRUE(g1 && g2);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::multiset<uint32_t> tags;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      PolicyGraph& g = t % 2 ? *g2 : *g1;
      for (int i = 0; i < kPerThread; ++i) {
        auto r = g.register_app("default", "t" + std::to_string(t) + "-" + std::to_string(i));
        if (!r) {
          ++failed;
          continue;
        }
        std::lock_guard lock(mutex);
        tags.insert(r->app.tag);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(tags.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(std::set<uint32_t>(tags.begin(), tags.end()).size(), tags.size());
  auto changes =
      one->read<std::vector<ChangeRecord>>([](StoreTx& tx) { return tx.changes_since(0, 10000); });
  ASSERT_TRUE(changes);
  int64_t expect = 0;
  for (const ChangeRecord& c : *changes) EXPECT_EQ(c.revision, ++expect);
  EXPECT_EQ(expect, kThreads * kPerThread);
}

}  // namespace
}  // namespace wiretag
