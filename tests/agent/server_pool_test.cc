// The agent's server list (--server), failover order and reconnect backoff (server_pool.h).
#include "agent/server_pool.h"

#include <gtest/gtest.h>

namespace wiretag::agent {
namespace {

using std::chrono::milliseconds;

TEST(ServerList, RepeatedAndCommaSeparatedUrls) {
  auto list = parse_server_list({"http://198.18.0.1:4002, http://198.18.0.2:4002", "http://h3:1"});
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ(server_name((*list)[0]), "http://198.18.0.1:4002");
  EXPECT_EQ(server_name((*list)[1]), "http://198.18.0.2:4002");
  EXPECT_EQ(server_name((*list)[2]), "http://h3:1");
}

TEST(ServerList, BadListsAreRefused) {
  for (auto bad : std::vector<std::vector<std::string>>{{},
                                                        {""},
                                                        {"http://a:1,"},
                                                        {"http://a:1,,http://b:1"},
                                                        {"ftp://a:1"},
                                                        {"http://a:1", "http://a:1"}}) {
    auto list = parse_server_list(bad);
    ASSERT_FALSE(list) << (bad.empty() ? "(none)" : bad[0]);
    EXPECT_EQ(list.error().code, "INVALID_URL");
  }
}

// Bounded exponential backoff with full jitter: the n-th wait is in [0, min(max, min·2^n)],
// the caps double up to max, the waits spread over the whole range.
TEST(Backoff, FullJitterUnderADoublingBoundedCap) {
  Backoff b(milliseconds(100), milliseconds(1000), 42);
  const std::vector<int64_t> caps = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t cap : caps) {
    EXPECT_EQ(b.cap().count(), cap);
    auto w = b.next();
    EXPECT_GE(w.count(), 0);
    EXPECT_LE(w.count(), cap);
  }
  b.reset();
  EXPECT_EQ(b.cap().count(), 100);
  // Many agents after one loss: their first waits cover [0, cap] instead of one instant.
  int64_t low = 1000, high = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Backoff first(milliseconds(100), milliseconds(1000), seed);
    int64_t w = first.next().count();
    low = std::min(low, w);
    high = std::max(high, w);
  }
  EXPECT_LT(low, 20);
  EXPECT_GT(high, 80);
}

TEST(ServerPool, AFailureMovesToTheNextServerOncePerGeneration) {
  auto list = parse_server_list({"http://a:1,http://b:1,http://c:1"});
  ASSERT_TRUE(list);
  ServerPool pool(*list, milliseconds(100), milliseconds(1000), 7);
  auto held = pool.held();
  EXPECT_EQ(held.index, 0u);
  // Two threads saw the same server fail: one move, not two.
  pool.failed(held.generation, "SERVER_UNREACHABLE");
  pool.failed(held.generation, "SERVER_UNREACHABLE");
  EXPECT_EQ(pool.held().index, 1u);
  EXPECT_EQ(pool.moves(), 1u);
  pool.failed(pool.held().generation, "TIMEOUT");
  pool.failed(pool.held().generation, "TIMEOUT");
  EXPECT_EQ(pool.held().index, 0u);  // round the list
  EXPECT_EQ(pool.moves(), 3u);
}

TEST(ServerPool, WaitsGrowWhileEveryServerFailsAndResetWhenOneAnswers) {
  auto list = parse_server_list({"http://a:1,http://b:1"});
  ASSERT_TRUE(list);
  ServerPool pool(*list, milliseconds(100), milliseconds(400), 1);
  int64_t most = 0;
  for (int i = 0; i < 20; ++i)
    most = std::max<int64_t>(most, pool.failed(pool.held().generation, "x").count());
  EXPECT_LE(most, 400);
  EXPECT_GT(most, 100);  // past the first cap
  pool.answered(0);
  for (int i = 0; i < 5; ++i) {
    pool.answered(0);
    EXPECT_LE(pool.failed(pool.held().generation, "x").count(), 100);
  }
}

TEST(ServerPool, OneServerStaysHeld) {
  auto list = parse_server_list({"http://a:1"});
  ASSERT_TRUE(list);
  ServerPool pool(*list, milliseconds(100), milliseconds(400), 1);
  pool.failed(pool.held().generation, "x");
  EXPECT_EQ(pool.held().index, 0u);
  EXPECT_EQ(pool.moves(), 0u);
}

}  // namespace
}  // namespace wiretag::agent
