// The internal API's domain pieces in-process: change notifier, cell registry, effective
// rules, edge deletion and what the change log's event bodies carry; async routing.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/account_policies.h"
#include "core/cell_registry.h"
#include "core/change_notifier.h"
#include "core/log_retention.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "http/line_stream.h"
#include "http/router.h"
#include "server/auth.h"
#include "server/internal_api.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

using nlohmann::json;

TEST(ChangeNotifier, WakesWaitersOnceTheRevisionPassesTheirs) {
  ChangeNotifier n(5);
  int woken_at_5 = 0, woken_at_6 = 0;
  n.wait(5, [&] { ++woken_at_5; });
  n.wait(6, [&] { ++woken_at_6; });
  EXPECT_EQ(n.waiting(), 2u);
  n.publish(5);  // not newer: nothing happens
  EXPECT_EQ(woken_at_5, 0);
  n.publish(6);
  EXPECT_EQ(woken_at_5, 1);
  EXPECT_EQ(woken_at_6, 0);
  n.publish(9);
  n.publish(10);
  EXPECT_EQ(woken_at_5, 1);
  EXPECT_EQ(woken_at_6, 1);
  EXPECT_EQ(n.waiting(), 0u);
  EXPECT_EQ(n.revision(), 10);
}

TEST(ChangeNotifier, AWaiterBehindTheRevisionIsWokenAtOnce) {
  ChangeNotifier n(7);
  bool woken = false;
  n.wait(3, [&] { woken = true; });
  EXPECT_TRUE(woken);
  EXPECT_EQ(n.waiting(), 0u);
}

TEST(ChangeNotifier, CancelledWaitersAreNotWoken) {
  ChangeNotifier n(1);
  bool woken = false;
  auto id = n.wait(1, [&] { woken = true; });
  EXPECT_TRUE(n.cancel(id));
  EXPECT_FALSE(n.cancel(id));
  n.publish(2);
  EXPECT_FALSE(woken);
}

TEST(ChangeNotifier, CloseWakesEveryoneNowAndLater) {
  ChangeNotifier n(1);
  int woken = 0;
  for (int i = 0; i < 10; ++i) n.wait(1, [&] { ++woken; });
  n.close();
  EXPECT_EQ(woken, 10);
  n.wait(1, [&] { ++woken; });
  EXPECT_EQ(woken, 11);
}

TEST(ChangeNotifier, EveryWaiterIsWokenExactlyOnceUnderConcurrentPublishers) {
  ChangeNotifier n(0);
  constexpr int kWaiters = 1000;
  std::atomic<int> woken{0};
  for (int i = 0; i < kWaiters; ++i) n.wait(i % 50, [&] { ++woken; });
  std::vector<std::thread> publishers;
  for (int t = 0; t < 4; ++t)
    publishers.emplace_back([&, t] {
      for (int r = t; r <= 60; r += 4) n.publish(r);
    });
  for (auto& t : publishers) t.join();
  EXPECT_EQ(woken.load(), kWaiters);
  EXPECT_EQ(n.waiting(), 0u);
}

CellReport report(std::string name, int64_t interval_ms, std::string healthy = "HEALTHY") {
  CellReport r;
  r.name = std::move(name);
  r.pdp_type = "tc";
  r.pdp_group = "defaultGroup";
  r.pdp_subgroup = "tc";
  r.state = "ACTIVE";
  r.healthy = std::move(healthy);
  r.heartbeat_interval_ms = interval_ms;
  return r;
}

TEST(CellRegistry, ACellExpiresAfterThreeMissedHeartbeats) {
  int64_t now = 1'000'000;
  CellRegistry cells([&] { return now; });
  cells.report(report("cell1", 1000));
  auto c = cells.find("cell1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->last_heartbeat_ms, 1'000'000);
  EXPECT_TRUE(c->healthy);
  EXPECT_FALSE(c->expired);
  now += 3000;  // exactly three intervals: not yet
  EXPECT_FALSE(cells.find("cell1")->expired);
  now += 1;
  c = cells.find("cell1");
  EXPECT_TRUE(c->expired);
  EXPECT_FALSE(c->healthy);
  EXPECT_EQ(c->report.healthy, "HEALTHY");  // what it said, kept apart from the verdict
  cells.report(report("cell1", 1000));      // a heartbeat revives it
  EXPECT_FALSE(cells.find("cell1")->expired);
  EXPECT_TRUE(cells.find("cell1")->healthy);
}

TEST(CellRegistry, ReportedUnhealthyIsUnhealthyAndTheListIsByName) {
  CellRegistry cells([] { return int64_t{0}; });
  cells.report(report("b", 100, "NOT_HEALTHY"));
  cells.report(report("a", 100));
  auto all = cells.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].report.name, "a");
  EXPECT_TRUE(all[0].healthy);
  EXPECT_EQ(all[1].report.name, "b");
  EXPECT_FALSE(all[1].healthy);
  EXPECT_FALSE(all[1].expired);
  EXPECT_FALSE(cells.find("c"));
}

TEST(CellRegistry, AHeartbeatReplacesWhatTheCellSaidBefore) {
  CellRegistry cells([] { return int64_t{0}; });
  auto r = report("a", 100);
  r.policies = {{"default-whitelist", "1"}};
  r.datapath = DatapathCounters{3, 10, 2, 0};
  cells.report(r);
  r.state = "SAFE";
  r.revision = 42;
  cells.report(r);
  auto c = cells.find("a");
  EXPECT_EQ(c->report.state, "SAFE");
  EXPECT_EQ(c->report.revision, 42);
  EXPECT_EQ(c->report.datapath, (DatapathCounters{3, 10, 2, 0}));
  EXPECT_EQ(cells.list().size(), 1u);
}

// Issue 14 item 7: one-off cell names do not pile up; an expired cell is forgotten after the
// retention, and no longer listed or counted anywhere.
TEST(CellRegistry, AnExpiredCellIsForgottenAfterTheRetention) {
  int64_t now = 1'000'000;
  CellRegistry cells([&] { return now; }, /*retention_ms=*/60'000);
  for (int i = 0; i < 20000; ++i) cells.report(report("one-off-" + std::to_string(i), 1000));
  EXPECT_EQ(cells.list().size(), 20000u);
  now += 3000 + 60'000;  // expired (3 intervals) for exactly the retention: still listed
  cells.report(report("steady", 1000));
  EXPECT_EQ(cells.list().size(), 20001u);
  EXPECT_TRUE(cells.find("one-off-0")->expired);
  now += 1;
  EXPECT_FALSE(cells.find("one-off-0")) << "hidden at once";
  EXPECT_EQ(cells.list().size(), 1u);
  EXPECT_EQ(cells.evict_expired(), 20000u) << "and the memory given back";
  EXPECT_EQ(cells.evict_expired(), 0u);
  EXPECT_TRUE(cells.find("steady"));
  cells.report(report("one-off-0", 1000));  // a cell that comes back is a cell again
  EXPECT_TRUE(cells.find("one-off-0")->healthy);
}

TEST(CellRegistry, HeartbeatsSweepTheForgottenCells) {
  int64_t now = 0;
  CellRegistry cells([&] { return now; }, /*retention_ms=*/1000);
  for (int i = 0; i < 100; ++i) cells.report(report("c" + std::to_string(i), 100));
  now += 10'000;
  cells.report(report("live", 100));  // the sweep runs with a heartbeat
  EXPECT_EQ(cells.evict_expired(), 0u) << "already swept";
  EXPECT_EQ(cells.list().size(), 1u);
}

class Internal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::open(dir_.path());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    store_->add_commit_observer([this](int64_t rev) { observed_.push_back(rev); });
    PolicyGraphOptions o;
    o.new_id = [] { return std::string("11111111-2222-4333-8444-555555555555"); };
    auto g = PolicyGraph::open(*store_, o);
    ASSERT_TRUE(g) << g.error().message;
    graph_.emplace(std::move(*g));
    policies_.emplace(*store_, [this] { return "policy-" + std::to_string(++ids_); });
  }
  PolicyGraph& g() { return *graph_; }
  uint32_t add(const std::string& guid, const std::string& account = "default") {
    auto r = g().register_app(account, guid);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->app.tag : 0;
  }
  json last_event_body() {
    auto log = g().changes_since(*g().revision() - 1, 1);
    EXPECT_EQ(log->size(), 1u);
    return json::parse(log->back().body);
  }

  test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::optional<PolicyGraph> graph_;
  std::optional<AccountPolicies> policies_;
  std::vector<int64_t> observed_;
  int ids_ = 0;
};

TEST_F(Internal, TheStoreIdIsMadeOnceAndKept) {
  EXPECT_EQ(g().store_id(), "11111111-2222-4333-8444-555555555555");
  graph_.reset();
  PolicyGraphOptions o;
  o.new_id = [] { return std::string("another"); };
  auto again = PolicyGraph::open(*store_, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->store_id(), "11111111-2222-4333-8444-555555555555");
}

TEST_F(Internal, EveryCommitThatLogsAChangeIsObservedWithItsRevision) {
  add("a");
  add("b");
  ASSERT_TRUE(g().allow({"a", "b", Protocol::Any, std::nullopt}));
  EXPECT_FALSE(*g().allow({"a", "b", Protocol::Any, std::nullopt}));  // nothing written
  EXPECT_EQ(g().register_app("default", "a b").error().code, "INVALID_GUID");
  ASSERT_TRUE(
      policies_->create("default", {std::string("p"), std::nullopt, std::vector<PolicyRule>{}}));
  EXPECT_EQ(observed_, (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST_F(Internal, EffectiveRulesJoinTheWhitelistAndNamedPolicies) {
  uint32_t a = add("a"), b = add("b");
  add("c");
  add("d");
  ASSERT_TRUE(g().allow({"a", "c", Protocol::Any, std::nullopt}));
  ASSERT_TRUE(g().allow({"b", "c", Protocol::Tcp, PortRange{8080, 8080}}));
  ASSERT_TRUE(policies_->create(
      "default", {std::string("web"), std::nullopt,
                  std::vector<PolicyRule>{{"b", "c", Protocol::Udp, PortRange{53, 53}},
                                          {"*", "c", Protocol::Icmp, std::nullopt},
                                          {"a", "d", Protocol::Tcp, PortRange{1, 1024}},
                                          {"a", "c", Protocol::Any, std::nullopt}}}));
  auto r = g().effective_rules({"c", "d", "zz", "c"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->revision, *g().revision());
  EXPECT_EQ(r->missing, std::vector<std::string>{"zz"});
  ASSERT_EQ(r->apps.size(), 2u);
  EXPECT_EQ(r->apps[0].app.guid, "c");
  // The duplicate a→c (whitelist and policy) appears once.
  EXPECT_EQ(r->apps[0].rules,
            (std::vector<EffectiveRule>{{"a", a, Protocol::Any, std::nullopt},
                                        {"b", b, Protocol::Tcp, PortRange{8080, 8080}},
                                        {"b", b, Protocol::Udp, PortRange{53, 53}},
                                        {"*", 0, Protocol::Icmp, std::nullopt}}));
  EXPECT_EQ(r->apps[1].rules,
            (std::vector<EffectiveRule>{{"a", a, Protocol::Tcp, PortRange{1, 1024}}}));
}

TEST_F(Internal, EffectiveRulesUseOnlyTheDestinationAccountsLatestPolicies) {
  uint32_t a = add("a");
  add("x", "team-x");
  ASSERT_TRUE(policies_->create(
      "default", {std::string("not-x's"), std::nullopt,
                  std::vector<PolicyRule>{{"a", "x", Protocol::Any, std::nullopt}}}));
  auto p = policies_->create("team-x",
                             {std::string("x's"), std::nullopt,
                              std::vector<PolicyRule>{{"a", "x", Protocol::Tcp, PortRange{1, 1}}}});
  ASSERT_TRUE(p);
  PolicyDraft v2;
  v2.rules = std::vector<PolicyRule>{{"a", "x", Protocol::Tcp, PortRange{2, 2}}};
  ASSERT_TRUE(policies_->update("team-x", p->id, v2, false));
  auto r = g().effective_rules({"x"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->apps[0].rules,
            (std::vector<EffectiveRule>{{"a", a, Protocol::Tcp, PortRange{2, 2}}}));
}

TEST_F(Internal, RulesFromADeletedSourceDropOut) {
  add("a");
  add("c");
  ASSERT_TRUE(g().allow({"a", "c", Protocol::Any, std::nullopt}));
  ASSERT_TRUE(policies_->create(
      "default", {std::string("p"), std::nullopt,
                  std::vector<PolicyRule>{{"a", "c", Protocol::Any, std::nullopt},
                                          {"*", "c", Protocol::Any, std::nullopt}}}));
  ASSERT_TRUE(g().delete_app("a"));
  auto r = g().effective_rules({"c"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->apps[0].rules, (std::vector<EffectiveRule>{{"*", 0, Protocol::Any, std::nullopt}}));
  EXPECT_EQ(g().effective_rules({"ok", "not ok"}).error().code, "INVALID_GUID");
}

TEST_F(Internal, DisallowRemovesExactlyThatEdgeAndLogsIt) {
  add("a");
  add("b");
  ASSERT_TRUE(g().allow({"a", "b", Protocol::Any, std::nullopt}));
  ASSERT_TRUE(g().allow({"a", "b", Protocol::Tcp, PortRange{80, 80}}));
  int64_t rev = *g().revision();
  EXPECT_EQ(g().disallow({"a", "b", Protocol::Tcp, PortRange{81, 81}}).error().code,
            "EDGE_NOT_FOUND");
  EXPECT_EQ(g().disallow({"zz", "b", Protocol::Any, std::nullopt}).error().code, "APP_NOT_FOUND");
  EXPECT_EQ(g().disallow({"a", "zz", Protocol::Any, std::nullopt}).error().code, "APP_NOT_FOUND");
  EXPECT_EQ(*g().revision(), rev);
  ASSERT_TRUE(g().disallow({"a", "b", Protocol::Tcp, PortRange{80, 80}}));
  EXPECT_EQ(*g().revision(), rev + 1);
  auto log = g().changes_since(rev, 10);
  EXPECT_EQ(log->at(0).kind, "edge.deleted");
  EXPECT_EQ(log->at(0).subject, "b");
  EXPECT_EQ(json::parse(log->at(0).body), (json{{"source", "a"},
                                                {"source_tag", g().app("a")->tag},
                                                {"destination", "b"},
                                                {"policy", "default-whitelist"},
                                                {"protocol", "tcp"},
                                                {"ports", {{"start", 80}, {"end", 80}}}}));
  EXPECT_EQ(g().whitelist("b")->edges.size(), 1u);
}

TEST_F(Internal, EventBodiesNameEveryDestinationTheyTouch) {
  add("a");
  add("b");
  add("c");
  EXPECT_EQ(last_event_body()["guid"], "c");
  EXPECT_EQ(last_event_body()["wire_bytes"], "0003");
  ASSERT_TRUE(g().allow({"a", "b", Protocol::Any, std::nullopt}));
  ASSERT_TRUE(g().allow({"a", "c", Protocol::Any, std::nullopt}));
  EXPECT_EQ(last_event_body()["destination"], "c");

  auto p = policies_->create("default",
                             {std::string("p"), std::nullopt,
                              std::vector<PolicyRule>{{"a", "b", Protocol::Any, std::nullopt}}});
  ASSERT_TRUE(p);
  EXPECT_EQ(last_event_body()["rules"][0]["destination"], "b");
  PolicyDraft move;
  move.rules = std::vector<PolicyRule>{{"a", "c", Protocol::Any, std::nullopt}};
  ASSERT_TRUE(policies_->update("default", p->id, move, false));
  EXPECT_EQ(last_event_body()["rules"][0]["destination"], "c");
  EXPECT_EQ(last_event_body()["previous_rules"][0]["destination"], "b");  // b lost a rule
  ASSERT_TRUE(policies_->remove("default", p->id));
  EXPECT_EQ(last_event_body()["rules"][0]["destination"], "c");

  ASSERT_TRUE(g().delete_app("a"));
  json deleted = last_event_body();
  EXPECT_EQ(deleted["guid"], "a");
  EXPECT_EQ(deleted["wire_bytes"], "0001");
  EXPECT_EQ(deleted["destinations"], (json{"b", "c"}));
}

// Issue 14 item 7: an evicted cell vanishes from the PAP's groups and statistics too.
TEST_F(Internal, AnEvictedCellVanishesFromThePap) {
  int64_t now = 1'000'000;
  CellRegistry cells([&] { return now; }, /*retention_ms=*/5000);
  Pap pap(*store_, cells, [&] { return now; });
  cells.report(report("cell1", 1000));
  auto cells_in_groups = [&] {
    size_t n = 0;
    auto groups = pap.groups();  // held: a range-for over *pap.groups() would dangle
    for (const GroupView& g : *groups)
      for (const SubgroupView& s : g.subgroups) n += s.cells.size();
    return n;
  };
  EXPECT_EQ(cells_in_groups(), 1u);
  EXPECT_EQ(pap.statistics()->cells, 1);
  now += 3000 + 5000 + 1;
  EXPECT_EQ(cells_in_groups(), 0u);
  EXPECT_EQ(pap.statistics()->cells, 0);
}

// Issue 14 item 16: a watch or /changes from before the change log's horizon is told to
// resync (no events, the current revision), like a client ahead of the store.
TEST_F(Internal, AWatchFromBeforeTheCompactedHorizonIsToldToResync) {
  for (int i = 0; i < 30; ++i) add("app" + std::to_string(i));
  const int64_t rev = *g().revision();
  ASSERT_EQ(rev, 30);
  LogRetention retention(*store_, RetentionPolicy{10, 0, 0, 0});
  ASSERT_EQ(retention.run()->horizon, 20);
  ChangeNotifier notifier(rev);
  CellRegistry cells;
  Pap pap(*store_, cells);
  Authenticator auth(*store_, /*insecure=*/true);
  boost::asio::io_context ioc;
  CellRequests requests(ioc, cells);
  http::Router router;
  add_internal_routes(router, g(), pap, notifier, cells, requests, auth, ioc);
  auto ask = [&](const std::string& path, const std::string& since) {
    http::Request q;
    q.path = path;
    q.query = {{"since", since}, {"timeout", "0"}};
    std::optional<http::Reply> out;
    router.dispatch(q, [&](http::Reply r) { out = std::move(r); });
    EXPECT_TRUE(out);
    EXPECT_EQ(out->status, 200u);
    return out->serialized ? json::parse(*out->serialized) : out->body;
  };
  for (const char* since : {"0", "5", "19"}) {
    json w = ask("/internal/v1/watch", since);
    EXPECT_EQ(w["resync"], true) << since;
    EXPECT_EQ(w["events"], json::array());
    EXPECT_EQ(w["revision"], rev);
    json c = ask("/internal/v1/changes", since);
    EXPECT_EQ(c["resync"], true) << since;
    EXPECT_EQ(c["changes"], json::array());
    EXPECT_EQ(c["revision"], rev);
  }
  json at_horizon = ask("/internal/v1/watch", "20");
  EXPECT_EQ(at_horizon["resync"], false);
  EXPECT_EQ(at_horizon["events"].size(), 10u);
  EXPECT_EQ(at_horizon["events"][0]["revision"], 21);
  EXPECT_EQ(ask("/internal/v1/changes", "25")["resync"], false);
  EXPECT_EQ(ask("/internal/v1/changes", "25")["changes"].size(), 5u);
}

// The watch route in-process, its strands run by hand: what a stream is handed is observable.
TEST_F(Internal, StreamsAndLongPollsAtOneRevisionShareOneSerializedBatch) {
  add("a");
  add("b");
  const int64_t rev = *g().revision();
  ChangeNotifier notifier(rev);
  store_->add_commit_observer([&notifier](int64_t r) { notifier.publish(r); });
  CellRegistry cells;
  Pap pap(*store_, cells);
  Authenticator auth(*store_, /*insecure=*/true);
  boost::asio::io_context ioc;
  CellRequests requests(ioc, cells);
  http::Router router;
  add_internal_routes(router, g(), pap, notifier, cells, requests, auth, ioc);
  auto ask = [&](std::map<std::string, std::string> query) {
    http::Request q;
    q.path = "/internal/v1/watch";
    q.query = std::move(query);
    std::optional<http::Reply> out;
    router.dispatch(q, [&](http::Reply r) { out = std::move(r); });
    return out;
  };
  const std::string since = std::to_string(rev);
  auto one = ask({{"since", since}, {"stream", "1"}}),
       two = ask({{"since", since}, {"stream", "1"}});
  ASSERT_TRUE(one && two);
  ASSERT_TRUE(one->lines && two->lines);
  EXPECT_EQ(one->status, 200u);
  ioc.poll();
  auto take = [&](http::LineStream& s) {
    auto batch = s.take(10);
    for (const auto& line : batch.lines) s.written(line->size() + 1);
    return batch.lines;
  };
  ASSERT_EQ(take(*one->lines).size(), 1u);  // the first line, at once
  ASSERT_EQ(take(*two->lines).size(), 1u);

  ASSERT_TRUE(g().allow({"a", "b", Protocol::Any, std::nullopt}));
  ioc.restart();
  ioc.poll();
  auto first = take(*one->lines), second = take(*two->lines);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].get(), second[0].get()) << "one buffer, not two copies";
  auto poll = ask({{"since", since}, {"timeout", "0"}});
  ASSERT_TRUE(poll && poll->serialized);
  EXPECT_EQ(poll->serialized.get(), first[0].get()) << "the long poll's buffer too";
  json line = json::parse(*first[0]);
  ASSERT_EQ(line["events"].size(), 1u);
  EXPECT_EQ(line["revision"], rev + 1);

  // Shutdown: both streams end cleanly, and the last chunk follows.
  notifier.close();
  ioc.restart();
  ioc.poll();
  EXPECT_TRUE(one->lines->ended());
  EXPECT_TRUE(one->lines->take(10).last);
  EXPECT_TRUE(two->lines->take(10).last);
}

TEST(LineStream, APushPastTheCapEndsTheStreamButOneLineAlwaysFits) {
  http::LineStream s(100);
  std::optional<http::LineStream::End> why;
  s.on_end([&](http::LineStream::End w) { why = w; });
  EXPECT_TRUE(s.push(std::make_shared<const std::string>(std::string(150, 'x'))));  // alone
  auto batch = s.take(10);
  ASSERT_EQ(batch.lines.size(), 1u);
  s.written(151);
  EXPECT_EQ(s.queued_bytes(), 0u);
  EXPECT_TRUE(s.push(std::make_shared<const std::string>(std::string(60, 'x'))));
  EXPECT_FALSE(s.push(std::make_shared<const std::string>(std::string(60, 'x'))));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, http::LineStream::End::OverLimit);
  EXPECT_TRUE(s.take(10).abort) << "closed without the last chunk";
}

TEST(LineStream, DrainedFiresOnceEverythingIsWritten) {
  http::LineStream s(1000);
  int drained = 0;
  s.push(std::make_shared<const std::string>("a"));
  s.on_drained([&] { ++drained; });
  EXPECT_EQ(drained, 0);
  s.take(10);
  EXPECT_EQ(drained, 0) << "taken is not written";
  s.written(2);
  EXPECT_EQ(drained, 1);
  s.on_drained([&] { ++drained; });
  EXPECT_EQ(drained, 2) << "nothing queued: at once";
  s.finish();
  auto last = s.take(10);
  EXPECT_TRUE(last.last);
  EXPECT_FALSE(s.take(10).last) << "the last chunk is handed out once";
}

TEST(AsyncRouter, AnAsyncRouteAnswersWhenItIsReady) {
  http::Router r;
  http::Respond later;
  r.add_async(http::Method::Get, "/wait/:id", [&](const http::Request& q, http::Respond done) {
    if (q.param("id") == "now") return done(http::Reply{200, {{"now", true}}});
    if (q.param("id") == "bad") return done(Error{"INVALID_QUERY", "bad"});
    later = std::move(done);
  });
  std::optional<http::Reply> got;
  http::Request q;
  q.path = "/wait/now";
  r.dispatch(q, [&](http::Reply reply) { got = std::move(reply); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body["now"], true);
  got.reset();
  q.path = "/wait/bad";
  r.dispatch(q, [&](http::Reply reply) { got = std::move(reply); });
  EXPECT_EQ(got->status, 400u);
  got.reset();
  q.path = "/wait/x";
  r.dispatch(q, [&](http::Reply reply) { got = std::move(reply); });
  EXPECT_FALSE(got);
  later(http::Reply{200, {{"later", true}}});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body["later"], true);
  // route() needs the answer at once.
  q.path = "/wait/y";
  EXPECT_EQ(r.route(q).status, 500u);
  later(http::Reply{200, {}});  // a late answer after route() returned is harmless
}

}  // namespace
}  // namespace wiretag
