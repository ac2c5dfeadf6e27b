// The policy graph's rules over real stores: SqliteStore in a temp dir and PgStore on a
// private PostgreSQL cluster (parameterized).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/policy_graph.h"
#include "core/tag_space.h"
#include "store/sqlite_store.h"
#include "store_backends.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

TEST(TagSpace, RendersExactlyTwoHexDigitsPerByte) {
  EXPECT_EQ(TagSpace::make(2)->wire_bytes(0xa7e0), "a7e0");
  EXPECT_EQ(TagSpace::make(4)->wire_bytes(0xa7e0cd35), "a7e0cd35");
  EXPECT_EQ(TagSpace::make(1)->wire_bytes(5), "05");
  EXPECT_EQ(TagSpace::make(3)->wire_bytes(1), "000001");
  EXPECT_EQ(TagSpace::make(2)->parse("a7e0"), 0xa7e0u);
  EXPECT_FALSE(TagSpace::make(2)->parse("A7E0"));
  EXPECT_FALSE(TagSpace::make(2)->parse("a7e"));
}

TEST(TagSpace, LengthIsOneToFourBytes) {
  EXPECT_EQ(TagSpace::make(0).error().code, "INVALID_TAG_LENGTH");
  EXPECT_EQ(TagSpace::make(5).error().code, "INVALID_TAG_LENGTH");
  EXPECT_EQ(TagSpace::make(1)->max_tag(), 255u);
  EXPECT_EQ(TagSpace::make(4)->max_tag(), 0xffffffffu);
}

TEST(AppGuid, AcceptsOneTo128OfTheAlphabet) {
  EXPECT_TRUE(is_valid_app_guid("db8e8142-3d4e-413f-99ef-f2a9f644e1b1"));
  EXPECT_TRUE(is_valid_app_guid("a.b_c:d-E9"));
  EXPECT_TRUE(is_valid_app_guid(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_app_guid(""));
  EXPECT_FALSE(is_valid_app_guid(std::string(129, 'x')));
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a/b", "*", "a\"b", "é", std::string("a\0b", 3)})
    EXPECT_FALSE(is_valid_app_guid(bad)) << bad;
}

EdgeRequest edge(std::string source, std::string destination) {
  return EdgeRequest{std::move(source), std::move(destination), Protocol::Any, std::nullopt};
}

class Graph : public ::testing::TestWithParam<test::Backend> {
 protected:
  void open(int tag_length = 2, int64_t quarantine = 3600) {
    graph_.reset();
    store_.reset();
    // One store per tag length: the length is fixed when a store is created.
    auto [at, fresh] = locations_.try_emplace(tag_length, GetParam(),
                                              dir_.path() / ("len" + std::to_string(tag_length)));
    auto s = at->second.open();
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    PolicyGraphOptions o;
    o.tag_length = tag_length;
    o.tag_quarantine_seconds = quarantine;
    o.clock = [this] { return now_; };
    auto g = PolicyGraph::open(*store_, o);
    ASSERT_TRUE(g) << g.error().message;
    graph_.emplace(std::move(*g));
  }
  void SetUp() override { open(); }
  PolicyGraph& g() { return *graph_; }

  test::TempDir dir_;
  std::map<int, test::StoreLocation> locations_;
  int64_t now_ = 1'000'000;
  std::unique_ptr<Store> store_;
  std::optional<PolicyGraph> graph_;
};

INSTANTIATE_TEST_SUITE_P(Backends, Graph, test::kBackends, test::backend_name);

TEST_P(Graph, RegisterIsIdempotentAndKeepsTheTag) {
  auto first = g().register_app("default", "a");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->created);
  auto again = g().register_app("default", "a");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->app.tag, first->app.tag);
  EXPECT_EQ(*g().revision(), 1);
}

TEST_P(Graph, SameGuidInAnotherAccountConflicts) {
  ASSERT_TRUE(g().register_app("default", "a"));
  EXPECT_EQ(g().register_app("other", "a").error().code, "APP_EXISTS");
}

TEST_P(Graph, TagsAreDistinctAndNeverZero) {
  std::set<uint32_t> tags;
  for (int i = 0; i < 300; ++i) {
    auto r = g().register_app("default", "app" + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_NE(r->app.tag, 0u);
    tags.insert(r->app.tag);
  }
  EXPECT_EQ(tags.size(), 300u);
}

TEST_P(Graph, ExhaustionIsReportedAndQuarantineHoldsUntilItPasses) {
  open(1, 3600);
  for (int i = 0; i < 255; ++i) ASSERT_TRUE(g().register_app("default", "a" + std::to_string(i)));
  EXPECT_EQ(g().register_app("default", "late").error().code, "TAGS_EXHAUSTED");
  uint32_t freed = g().app("a9")->tag;
  ASSERT_TRUE(g().delete_app("a9"));
  now_ += 3599;
  EXPECT_EQ(g().register_app("default", "late").error().code, "TAGS_EXHAUSTED");
  now_ += 1;
  auto late = g().register_app("default", "late");
  ASSERT_TRUE(late) << late.error().message;
  EXPECT_EQ(late->app.tag, freed);
}

TEST_P(Graph, EdgesNeedBothAppsAndAreIdempotent) {
  ASSERT_TRUE(g().register_app("default", "a"));
  ASSERT_TRUE(g().register_app("default", "b"));
  EXPECT_EQ(g().allow(edge("a", "zz")).error().code, "APP_NOT_FOUND");
  EXPECT_EQ(g().allow(edge("zz", "b")).error().code, "APP_NOT_FOUND");
  EXPECT_EQ(*g().allow(edge("a", "b")), true);
  int64_t rev = *g().revision();
  EXPECT_EQ(*g().allow(edge("a", "b")), false);
  EXPECT_EQ(*g().revision(), rev);
  auto wl = g().whitelist("b");
  ASSERT_TRUE(wl);
  EXPECT_EQ(wl->allowed_tags, std::vector<uint32_t>{g().app("a")->tag});
  EXPECT_EQ(wl->edges[0].edge.policy, kDefaultWhitelist);
}

TEST_P(Graph, WildcardSourceAddsARuleButNoWireBytes) {
  ASSERT_TRUE(g().register_app("default", "b"));
  EXPECT_TRUE(*g().allow({"*", "b", Protocol::Tcp, PortRange{443, 443}}));
  auto wl = g().whitelist("b");
  EXPECT_TRUE(wl->allowed_tags.empty());
  ASSERT_EQ(wl->edges.size(), 1u);
  EXPECT_EQ(wl->edges[0].source_tag, 0u);
}

TEST_P(Graph, DeleteRemovesTheAppAndEveryEdgeTogether) {
  for (auto guid : {"a", "b", "c"}) ASSERT_TRUE(g().register_app("default", guid));
  ASSERT_TRUE(g().allow(edge("a", "b")));
  ASSERT_TRUE(g().allow(edge("b", "a")));
  ASSERT_TRUE(g().allow(edge("c", "b")));
  ASSERT_TRUE(g().delete_app("a"));
  EXPECT_EQ(g().app("a").error().code, "APP_NOT_FOUND");
  EXPECT_EQ(g().whitelist("b")->edges.size(), 1u);
  auto edges = store_->read<int64_t>([](StoreTx& tx) { return tx.count_edges(); });
  EXPECT_EQ(*edges, 1);
}

TEST_P(Graph, RevisionGrowsWithEveryChangeAndTheLogSaysWhat) {
  ASSERT_TRUE(g().register_app("default", "a"));
  ASSERT_TRUE(g().register_app("default", "b"));
  ASSERT_TRUE(g().allow(edge("a", "b")));
  ASSERT_TRUE(g().delete_app("a"));
  auto log = g().changes_since(0, 100);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 4u);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < log->size(); ++i) {
    EXPECT_EQ((*log)[i].revision, static_cast<int64_t>(i + 1));
    kinds.push_back((*log)[i].kind);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"app.created", "app.created", "edge.created",
                                             "app.deleted"}));
  EXPECT_EQ(g().changes_since(3, 100)->size(), 1u);
}

TEST_P(Graph, TagLengthIsFixedWhenTheStoreIsCreated) {
  ASSERT_TRUE(g().register_app("default", "a"));
  graph_.reset();
  PolicyGraphOptions o;
  o.tag_length = 4;
  EXPECT_EQ(PolicyGraph::open(*store_, o).error().code, "TAG_LENGTH_MISMATCH");
}

TEST_P(Graph, InvalidInputsNeverReachTheStore) {
  EXPECT_EQ(g().register_app("default", "a b").error().code, "INVALID_GUID");
  EXPECT_EQ(g().register_app("bad account", "a").error().code, "INVALID_ACCOUNT");
  ASSERT_TRUE(g().register_app("default", "a"));
  EXPECT_EQ(g().allow({"a", "a", Protocol::Icmp, PortRange{1, 2}}).error().code, "INVALID_RULE");
  EXPECT_EQ(g().allow({"a", "a", Protocol::Tcp, PortRange{0, 2}}).error().code, "INVALID_RULE");
  EXPECT_EQ(*g().revision(), 1);
}

TEST_P(Graph, PolicyVersionsGrowAndRefidsMayRepeat) {
  int n = 0;
  AccountPolicies policies(*store_, [&n] { return "id-" + std::to_string(++n); });
  PolicyDraft draft{std::string("web"), std::optional<std::string>("r"),
                    std::vector<PolicyRule>{{"a", "b", Protocol::Tcp, PortRange{80, 80}}}};
  auto p1 = policies.create("acme", draft);
  ASSERT_TRUE(p1) << p1.error().message;
  EXPECT_EQ(p1->version, 1);
  PolicyDraft rename;
  rename.name = "web-2";
  auto p2 = policies.update("acme", "r", rename, /*replace=*/false);
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->version, 2);
  EXPECT_EQ(p2->rules, p1->rules);
  ASSERT_TRUE(policies.create("acme", draft));
  EXPECT_EQ(policies.get("acme", "r").error().code, "AMBIGUOUS_REFID");
  EXPECT_EQ(policies.get("acme", "id-1")->name, "web-2");  // an id always resolves
  EXPECT_EQ(policies.get("other", "id-1").error().code, "POLICY_NOT_FOUND");
  EXPECT_EQ(policies.remove("acme", "r").error().code, "AMBIGUOUS_REFID");
  ASSERT_TRUE(policies.remove("acme", "id-1"));
  EXPECT_EQ(policies.list("acme")->size(), 1u);
}

// The in-memory index answers what the store answers, after every kind of change.
class WhitelistIndexOn : public ::testing::TestWithParam<test::Backend> {
 protected:
  test::TempDir dir_;
  test::StoreLocation location_{GetParam(), dir_.path()};
};

INSTANTIATE_TEST_SUITE_P(Backends, WhitelistIndexOn, test::kBackends, test::backend_name);

TEST_P(WhitelistIndexOn, AgreesWithTheStoreThroughRandomChanges) {
  auto s = location_.open();
  ASSERT_TRUE(s) << s.error().message;
  PolicyGraphOptions plain_options;
  plain_options.tag_length = 1;
  plain_options.tag_quarantine_seconds = 0;
  PolicyGraphOptions indexed_options = plain_options;
  indexed_options.in_memory_index = true;
  // Some state before the index loads, the rest through its change log.
  auto plain = PolicyGraph::open(**s, plain_options);
  ASSERT_TRUE(plain);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(plain->register_app("default", "a" + std::to_string(i)));
  ASSERT_TRUE(plain->allow(edge("a1", "a2")));
  ASSERT_TRUE(plain->allow({"*", "a2", Protocol::Tcp, PortRange{80, 81}}));
  auto indexed = PolicyGraph::open(**s, indexed_options);
  ASSERT_TRUE(indexed);

  std::mt19937 rng(7);
  auto guid = [&] { return "a" + std::to_string(rng() % 14); };
  for (int step = 0; step < 600; ++step) {
    switch (rng() % 8) {
      case 0:
        (void)plain->register_app(rng() % 4 ? "default" : "other", guid());
        break;
      case 1:
        (void)indexed->delete_app(guid());
        break;
      case 2:
      case 3:
      case 4: {
        EdgeRequest e = edge(rng() % 6 ? guid() : "*", guid());
        if (rng() % 2) {
          e.protocol = Protocol::Udp;
          e.ports = PortRange{static_cast<uint16_t>(1 + rng() % 3), 10};
        }
        (void)indexed->allow(e);
        break;
      }
      default: {
        EdgeRequest e = edge(rng() % 6 ? guid() : "*", guid());
        (void)plain->disallow(e);
        break;
      }
    }
    for (int i = 0; i < 14; ++i) {
      const std::string g = "a" + std::to_string(i);
      auto want = plain->app_whitelist(g, true);
      auto have = indexed->app_whitelist(g, true);
      ASSERT_EQ(want.ok(), have.ok()) << step << " " << g;
      if (!want.ok()) {
        EXPECT_EQ(have.error().code, want.error().code);
        continue;
      }
      EXPECT_EQ(have->app.account, want->app.account);
      EXPECT_EQ(have->app.tag, want->app.tag);
      EXPECT_EQ(have->whitelist.allowed_tags, want->whitelist.allowed_tags) << step << " " << g;
      ASSERT_EQ(have->whitelist.edges.size(), want->whitelist.edges.size()) << step << " " << g;
      for (size_t k = 0; k < want->whitelist.edges.size(); ++k) {
        EXPECT_EQ(have->whitelist.edges[k].edge, want->whitelist.edges[k].edge);
        EXPECT_EQ(have->whitelist.edges[k].source_tag, want->whitelist.edges[k].source_tag);
      }
      auto without = indexed->app_whitelist(g, false);
      EXPECT_TRUE(without->whitelist.edges.empty());
      EXPECT_EQ(without->whitelist.allowed_tags, want->whitelist.allowed_tags);
    }
  }
}

// Another process writing to the same database: seen once the poll interval has passed.
TEST_P(WhitelistIndexOn, FollowsWritersOfOtherProcessesThroughTheChangeLog) {
  auto mine = location_.open();
  auto theirs = location_.open();
  ASSERT_TRUE(mine && theirs);
  PolicyGraphOptions o;
  o.in_memory_index = true;
  o.index.poll_interval = std::chrono::milliseconds(0);
  auto indexed = PolicyGraph::open(**mine, o);
  auto other = PolicyGraph::open(**theirs, PolicyGraphOptions{});
  ASSERT_TRUE(indexed && other);
  ASSERT_TRUE(other->register_app("default", "a"));
  ASSERT_TRUE(other->register_app("default", "b"));
  ASSERT_TRUE(other->allow(edge("a", "b")));
  auto wl = indexed->whitelist("b");
  ASSERT_TRUE(wl) << wl.error().message;
  EXPECT_EQ(wl->allowed_tags, std::vector<uint32_t>{indexed->app("a")->tag});
  ASSERT_TRUE(other->delete_app("a"));
  EXPECT_EQ(indexed->app("a").error().code, "APP_NOT_FOUND");
  EXPECT_TRUE(indexed->whitelist("b")->edges.empty());
}

}  // namespace
}  // namespace wiretag
