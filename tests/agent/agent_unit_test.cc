// The agent's parts in-process: the persisted device table, parsing what the server sends,
// and which followed apps a change event touches.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "../server/temp_dir.h"
#include "agent/cell.h"
#include "agent/device_table.h"
#include "agent/server_link.h"
#include "agent/underlay.h"

namespace wiretag::agent {
namespace {

using nlohmann::json;
using test::TempDir;

TEST(DeviceTable, PersistsEveryChangeDurablyAndRereadsIt) {
  TempDir dir;
  {
    auto t = DeviceTable::open(dir.path() / "state");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_TRUE(t->records().empty());
    ASSERT_TRUE(t->put({{"/run/netns/a", "veth1"}, std::nullopt, 0x0101, {1, 2}}));
    ASSERT_TRUE(t->put({{"/run/netns/a", "veth2"}, "app-x", 0, {}}));
    ASSERT_TRUE(t->put({{"/run/netns/a", "veth1"}, std::nullopt, 0x0102, {3}}));  // replaces
    ASSERT_TRUE(t->remove({"/run/netns/a", "veth9"}));                            // absent: ok
  }
  auto t = DeviceTable::open(dir.path() / "state");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->records().size(), 2u);
  const DeviceRecord* r1 = t->find({"/run/netns/a", "veth1"});
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->tag, 0x0102u);
  EXPECT_EQ(r1->static_sources, std::vector<uint32_t>{3});
  EXPECT_FALSE(r1->app_guid);
  const DeviceRecord* r2 = t->find({"/run/netns/a", "veth2"});
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->app_guid, "app-x");
  ASSERT_TRUE(t->remove({"/run/netns/a", "veth2"}));
  EXPECT_EQ(DeviceTable::open(dir.path() / "state")->records().size(), 1u);
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "state" / "devices"))
    EXPECT_EQ(e.path().extension(), ".json") << e.path();  // no temp file left
}

// Each device's record is its own file: a POST rewrites its own list only, however many
// other devices with long lists the cell has (1,000 x 1,000 sources took 617 s to fill when
// every POST rewrote the whole table).
TEST(DeviceTable, APutRewritesOnlyItsOwnDevicesFile) {
  TempDir dir;
  const auto devices = dir.path() / "state" / "devices";
  auto t = DeviceTable::open(dir.path() / "state");
  ASSERT_TRUE(t) << t.error().message;
  std::vector<uint32_t> many(5000);
  for (uint32_t i = 0; i < many.size(); ++i) many[i] = i + 1;
  ASSERT_TRUE(t->put({{"/run/netns/a", "big"}, std::nullopt, 1, many}));
  ASSERT_TRUE(t->put({{"/run/netns/a", "small"}, std::nullopt, 2, {7}}));
  std::map<std::filesystem::path, ino_t> before;
  for (const auto& e : std::filesystem::directory_iterator(devices)) {
    struct stat st {};
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    before[e.path()] = st.st_ino;
  }
  ASSERT_EQ(before.size(), 2u);
  ASSERT_TRUE(t->put({{"/run/netns/a", "small"}, std::nullopt, 2, {7, 8}}));
  int rewritten = 0;
  for (const auto& [path, inode] : before) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    if (st.st_ino != inode) ++rewritten;
  }
  EXPECT_EQ(rewritten, 1);  // the small device's file alone
  // Order of first put survives a restart.
  ASSERT_TRUE(t->put({{"/run/netns/a", "aaa"}, std::nullopt, 3, {}}));
  auto again = DeviceTable::open(dir.path() / "state");
  ASSERT_TRUE(again);
  ASSERT_EQ(again->records().size(), 3u);
  EXPECT_EQ(again->records()[0].device.ifname, "big");
  EXPECT_EQ(again->records()[1].device.ifname, "small");
  EXPECT_EQ(again->records()[1].static_sources, (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(again->records()[2].device.ifname, "aaa");
}

// An older agent's devices.json is split into per-device files on open and removed; its
// records keep their order, and a second open after a crash mid-way finds them once.
TEST(DeviceTable, AnOlderAgentsSingleFileIsAdopted) {
  TempDir dir;
  const auto state = dir.path() / "state";
  std::filesystem::create_directories(state);
  const std::string legacy = R"({"version":1,"devices":[
    {"namespace":"/run/netns/a","interface_name":"v2","tag":2,"static_sources":[5,6]},
    {"namespace":"/run/netns/a","interface_name":"v1","app_guid":"app-x"}]})";
  std::ofstream(state / "devices.json") << legacy;
  {
    auto t = DeviceTable::open(state);
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(t->records().size(), 2u);
    EXPECT_EQ(t->records()[0].device.ifname, "v2");
    EXPECT_EQ(t->records()[0].static_sources, (std::vector<uint32_t>{5, 6}));
    EXPECT_EQ(t->records()[1].app_guid, "app-x");
    EXPECT_FALSE(std::filesystem::exists(state / "devices.json"));
  }
  // A crash after the records were written but before the old file went: adopted once.
  std::ofstream(state / "devices.json") << legacy;
  auto t = DeviceTable::open(state);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->records().size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(state / "devices.json"));
  EXPECT_EQ(DeviceTable::open(state)->records().size(), 2u);
}

// Issue 14 item 11: --state-dir is 0700 and the device table 0600, also when made wider before.
TEST(DeviceTable, StateDirIs0700AndTheTable0600) {
  TempDir dir;
  const auto state = dir.path() / "state";
  auto mode_of = [](const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  const mode_t old_umask = ::umask(022);
  {
    auto t = DeviceTable::open(state);
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_TRUE(t->put({{"/proc/1/ns/net", "veth0"}, std::string("app"), 0, {}}));
    EXPECT_EQ(mode_of(state), 0700u);
    EXPECT_EQ(mode_of(state / "devices"), 0700u);
  }
  const auto record = std::filesystem::directory_iterator(state / "devices")->path();
  EXPECT_EQ(mode_of(record), 0600u);
  ASSERT_EQ(::chmod(state.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((state / "devices").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(record.c_str(), 0644), 0);
  ASSERT_TRUE(DeviceTable::open(state));
  EXPECT_EQ(mode_of(state), 0700u);
  EXPECT_EQ(mode_of(state / "devices"), 0700u);
  EXPECT_EQ(mode_of(record), 0600u);
  ::umask(old_umask);
}

TEST(DeviceTable, CorruptFileIsAnErrorNotAnEmptyTable) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "s");
  std::ofstream(dir.path() / "s" / "devices.json") << "{\"devices\": [ {\"namespace\": 3";
  auto t = DeviceTable::open(dir.path() / "s");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "STATE_CORRUPT");
  std::ofstream(dir.path() / "s" / "devices.json") << R"({"devices":[{"namespace":1}]})";
  EXPECT_EQ(DeviceTable::open(dir.path() / "s").error().code, "STATE_CORRUPT");
  std::filesystem::remove(dir.path() / "s" / "devices.json");
  // A per-device file: cut short, or holding another device's record.
  ASSERT_TRUE(DeviceTable::open(dir.path() / "s"));
  std::ofstream(dir.path() / "s" / "devices" / "x.json") << R"({"seq":1,"namespace":"/n")";
  EXPECT_EQ(DeviceTable::open(dir.path() / "s").error().code, "STATE_CORRUPT");
  std::ofstream(dir.path() / "s" / "devices" / "x.json")
      << R"({"seq":1,"namespace":"/n","interface_name":"v","tag":1,"static_sources":[]})";
  EXPECT_EQ(DeviceTable::open(dir.path() / "s").error().code, "STATE_CORRUPT");
}

TEST(ServerReplies, SnapshotParsesRulesInCanonicalOrder) {
  json body = {{"store_id", "s1"},
               {"tag_length", 2},
               {"revision", 42},
               {"apps",
                {{{"guid", "b"},
                  {"wire_bytes", "0002"},
                  {"tag", 2},
                  {"rules",
                   {{{"source", "c"},
                     {"source_tag", 3},
                     {"protocol", "tcp"},
                     {"ports", {{"start", 80}, {"end", 90}}}},
                    {{"source", "*"}, {"source_tag", 0}, {"protocol", "any"}},
                    {{"source", "c"},
                     {"source_tag", 3},
                     {"protocol", "tcp"},
                     {"ports", {{"start", 80}, {"end", 90}}}}}}}}},
               {"missing", {"gone"}}};
  auto s = parse_snapshot(body);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->store_id, "s1");
  EXPECT_EQ(s->revision, 42);
  ASSERT_EQ(s->apps.size(), 1u);
  const AppPolicy& p = s->apps[0];
  EXPECT_EQ(p.tag, 2u);
  ASSERT_EQ(p.rules.size(), 2u);  // the duplicate collapses
  EXPECT_EQ(p.rules[0], (Rule{0, Protocol::Any, std::nullopt}));
  EXPECT_EQ(p.rules[1], (Rule{3, Protocol::Tcp, PortRange{80, 90}}));
  EXPECT_EQ(p.sources, (std::set<std::string>{"*", "c"}));
  EXPECT_EQ(s->missing, std::vector<std::string>{"gone"});
}

TEST(ServerReplies, MalformedSnapshotsAreRefused) {
  for (
      const char* text :
      {R"({})", R"({"store_id":"s","revision":1,"apps":[{"guid":"a"}]})",
       R"({"store_id":"s","revision":1,"apps":[{"guid":"a","tag":1,"rules":[{"source":"x","source_tag":1,"protocol":"sctp"}]}]})",
       R"({"store_id":"s","revision":"1","apps":[]})"}) {
    auto s = parse_snapshot(json::parse(text));
    ASSERT_FALSE(s) << text;
    EXPECT_EQ(s.error().code, "INVALID_RESPONSE") << text;
  }
}

TEST(ServerReplies, EventsNameTheirDestinations) {
  auto e = parse_event({{"revision", 7},
                        {"kind", "edge.created"},
                        {"account", "default"},
                        {"subject", "b"},
                        {"body",
                         {{"source", "a"},
                          {"source_tag", 3},
                          {"destination", "b"},
                          {"policy", "default-whitelist"},
                          {"protocol", "tcp"},
                          {"ports", {{"start", 80}, {"end", 90}}}}}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, protocol::EventKind::EdgeCreated);
  EXPECT_EQ(e->destinations, std::vector<std::string>{"b"});
  ASSERT_TRUE(e->edge);
  EXPECT_EQ(e->edge->rule, (Rule{3, Protocol::Tcp, PortRange{80, 90}}));
  // An update names the destinations of its rules and of the rules it replaced.
  e = parse_event(json::parse(R"({"revision":8,"kind":"policy.updated","account":"acme",
      "subject":"p1","body":{"id":"p1","name":"n","version":2,
      "rules":[{"source":"a","destination":"c","protocol":"any"},
               {"source":"a","destination":"d","protocol":"any"}],
      "previous_rules":[{"source":"a","destination":"e","protocol":"any"}]}})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, protocol::EventKind::PolicyUpdated);
  EXPECT_EQ(e->destinations, (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_FALSE(parse_event(json::parse(R"({"kind":"x"})")));
}

// A kind this agent does not know (a newer server's), or a body it cannot read: the event
// is kept (its revision counts) with no kind, and the cell resyncs rather than guess.
TEST(ServerReplies, UnknownOrMalformedEventsMeanResync) {
  for (const char* text :
       {R"({"revision":9,"kind":"something.new","account":"","subject":"x","body":{}})",
        R"({"revision":9,"kind":"edge.created","account":"","subject":"b","body":{"source":"a"}})",
        R"({"revision":9,"kind":"pdp.update","account":"","subject":"g","body":{"group":"g"}})"}) {
    auto e = parse_event(json::parse(text));
    ASSERT_TRUE(e) << text;
    EXPECT_EQ(e->revision, 9);
    EXPECT_FALSE(e->kind) << text;
  }
}

class CellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    datapath::Options o;
    o.pin_dir = "";  // nothing pinned: an in-memory datapath for this process
    o.max_policy_entries = 1024;
    o.max_endpoints = 16;
    auto dp = datapath::Datapath::open(o);
    ASSERT_TRUE(dp) << dp.error().message;
    dp_ = std::move(*dp);
    auto table = DeviceTable::open(dir_.path() / "state");
    ASSERT_TRUE(table);
    // Followed apps come from the table; no device needs to exist to ask affected_apps().
    ASSERT_TRUE(table->put({{"/run/netns/none", "v1"}, "web", 0, {}}));
    ASSERT_TRUE(table->put({{"/run/netns/none", "v2"}, "db", 0, {}}));
    cell_ = std::make_unique<Cell>(*dp_, std::move(*table), *TagSpace::make(2));
  }
  TempDir dir_;
  std::unique_ptr<datapath::Datapath> dp_;
  std::unique_ptr<Cell> cell_;
};

// The gate's VTEP set follows the server's answers: additions at once, departures only after
// the grace (a restarted server answers with the cells heard so far), a previous agent's
// pinned set counting as just heard.
TEST_F(CellTest, TheGateBelievesTheServersVtepsAndDropsOnesOnlyAfterTheGrace) {
  using std::chrono::seconds;
  ASSERT_TRUE(dp_->set_vteps({"198.18.0.9"}));  // pinned by a previous agent
  auto u = Underlay::over(*dp_, {"198.18.0.1"}, std::chrono::milliseconds(3000));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(u->learn({"198.18.0.1"}, t0));
  EXPECT_EQ(dp_->vteps(), (std::vector<std::string>{"198.18.0.1", "198.18.0.9"}))
      << "the pinned set stays while the (restarted) server has not named it yet";
  ASSERT_TRUE(u->learn({"198.18.0.1", "198.18.0.2"}, t0 + seconds(1)));
  EXPECT_EQ(dp_->vteps(),
            (std::vector<std::string>{"198.18.0.1", "198.18.0.2", "198.18.0.9"}));
  ASSERT_TRUE(u->learn({"198.18.0.1"}, t0 + seconds(2)));
  EXPECT_EQ(u->believed(), (std::vector<std::string>{"198.18.0.1", "198.18.0.2", "198.18.0.9"}))
      << "a cell left out once is still believed";
  ASSERT_TRUE(u->learn({"198.18.0.1"}, t0 + seconds(5)));
  EXPECT_EQ(dp_->vteps(), (std::vector<std::string>{"198.18.0.1"}))
      << "left out for longer than the grace: gone";
  EXPECT_FALSE(u->learn({"not-an-address"}, t0 + seconds(6)));
  EXPECT_EQ(dp_->vteps(), (std::vector<std::string>{"198.18.0.1"})) << "a bad answer changes nothing";
}

TEST_F(CellTest, ChangeEventsTouchOnlyTheAppsTheyName) {
  EXPECT_EQ(cell_->followed_apps(), (std::vector<std::string>{"db", "web"}));
  using protocol::EventKind;
  auto apps = cell_->affected_apps({1, EventKind::EdgeCreated, "x", {"web"}});
  ASSERT_TRUE(apps);
  EXPECT_EQ(*apps, std::set<std::string>{"web"});
  apps = cell_->affected_apps({2, EventKind::EdgeCreated, "x", {"elsewhere"}});
  ASSERT_TRUE(apps);
  EXPECT_TRUE(apps->empty());
  apps = cell_->affected_apps({3, EventKind::AppDeleted, "db", {}});
  EXPECT_EQ(*apps, std::set<std::string>{"db"});
  apps = cell_->affected_apps({4, EventKind::PolicyUpdated, "p", {"db", "web", "other"}});
  EXPECT_EQ(*apps, (std::set<std::string>{"db", "web"}));
  EXPECT_FALSE(cell_->affected_apps({5, std::nullopt, "x", {}}));  // unknown: resync
  cell_->begin_follow("api");
  apps = cell_->affected_apps({6, EventKind::EdgeCreated, "x", {"api"}});
  EXPECT_EQ(*apps, std::set<std::string>{"api"});
  cell_->end_follow("api");
  EXPECT_TRUE(cell_->affected_apps({7, EventKind::EdgeCreated, "x", {"api"}})->empty());
}

TEST_F(CellTest, DeletedSourceAppTouchesTheAppsItCouldReach) {
  ServerSnapshot s;
  s.store_id = "s";
  s.revision = 5;
  AppPolicy web{"web", 1, {Rule{9, Protocol::Any, std::nullopt}}, {"client"}, 5};
  s.apps.push_back(web);
  cell_->apply(s);  // devices do not exist: nothing attached, the policy is remembered
  auto apps = cell_->affected_apps({6, protocol::EventKind::AppDeleted, "client", {}});
  ASSERT_TRUE(apps);
  EXPECT_EQ(*apps, std::set<std::string>{"web"});
}

TEST_F(CellTest, AddedEdgeIsAppliedFromTheEventAndOlderEventsAreIgnored) {
  ServerSnapshot s;
  s.store_id = "s";
  s.revision = 10;
  s.apps.push_back(AppPolicy{"web", 1, {Rule{9, Protocol::Any, std::nullopt}}, {"client"}, 10});
  cell_->apply(s);
  auto e = parse_event(
      json::parse(R"({"revision":11,"kind":"edge.created","account":"default","subject":"web",
      "body":{"source":"api","source_tag":7,"destination":"web","policy":"default-whitelist",
              "protocol":"tcp","ports":{"start":80,"end":81}}})"));
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->edge);
  EXPECT_EQ(e->edge->rule, (Rule{7, Protocol::Tcp, PortRange{80, 81}}));
  EXPECT_TRUE(cell_->apply_change(*e));
  // The cell now knows "api" as a source of web: deleting api touches web.
  EXPECT_EQ(*cell_->affected_apps({12, protocol::EventKind::AppDeleted, "api", {}}),
            std::set<std::string>{"web"});
  // Not an edge of default-whitelist, a deletion, or an app it holds no rules for: ask.
  auto named = *e;
  named.edge.reset();
  EXPECT_FALSE(cell_->apply_change(named));
  auto del = *e;
  del.kind = protocol::EventKind::EdgeDeleted;
  EXPECT_FALSE(cell_->apply_change(del));
  auto other = *e;
  other.edge->destination = "db";
  EXPECT_FALSE(cell_->apply_change(other));
  // An edge event without the source's tag (an older server) carries no edge: the cell
  // cannot read it and resyncs.
  auto old = parse_event(
      json::parse(R"({"revision":13,"kind":"edge.created","account":"default","subject":"web",
      "body":{"source":"api","destination":"web","policy":"default-whitelist","protocol":"any"}})"));
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->edge);
  EXPECT_FALSE(old->kind);
}

TEST(Assignment, ParsedFromThePdpStatusReply) {
  auto a = parse_assignment(json::parse(R"({"name":"c1","pdpGroup":"canary","pdpSubgroup":"tc",
      "state":"TEST","mode":"audit","locked":false,"heartbeatIntervalMs":5000,
      "policies":[{"name":"default-whitelist","version":"1.0.0"},{"name":"p1","version":"2.0.0"}],
      "revision":12})"));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->group, "canary");
  EXPECT_EQ(a->state, "TEST");
  EXPECT_EQ(a->mode, datapath::Mode::Audit);
  EXPECT_FALSE(a->locked);
  EXPECT_EQ(a->revision, 12);
  ASSERT_EQ(a->policies.size(), 2u);
  // Malformed replies are refused, never half-read.
  for (
      const char* bad :
      {R"([])", R"({"pdpGroup":"g","pdpSubgroup":"tc","state":"ACTIVE"})",
       R"({"pdpGroup":"g","pdpSubgroup":"tc","state":"ACTIVE","mode":"drop"})",
       R"({"pdpGroup":"g","pdpSubgroup":"tc","state":"ACTIVE","mode":"enforce","locked":"no"})",
       R"({"pdpGroup":"g","pdpSubgroup":"tc","state":"ACTIVE","mode":"enforce","policies":[{"name":"x"}]})",
       R"({"pdpGroup":"g","pdpSubgroup":"tc","state":"ACTIVE","mode":"enforce","revision":"7"})"}) {
    auto r = parse_assignment(json::parse(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "INVALID_RESPONSE");
  }
}

TEST(Assignment, VersionsCompareAsTheServerDoes) {
  EXPECT_TRUE(same_version({"p", "3"}, {"p", "3.0.0"}));
  EXPECT_FALSE(same_version({"p", "3"}, {"p", "3.1.0"}));
  EXPECT_FALSE(same_version({"p", "3"}, {"q", "3"}));
  // "03" is no version N, as the server reads it: not "03.0.0" either (issue 20).
  EXPECT_FALSE(same_version({"p", "03"}, {"p", "03.0.0"}));
  EXPECT_FALSE(same_version({"p", "03"}, {"p", "3.0.0"}));
  std::vector<PolicyVersion> a = {{"default-whitelist", "1.0.0"}, {"p", "2"}};
  std::vector<PolicyVersion> b = {{"p", "2.0.0"}, {"default-whitelist", "1.0.0"}};
  EXPECT_TRUE(same_policies(a, b));
  EXPECT_FALSE(same_policies(a, {{"p", "2"}}));
  auto rest = without(a, {{"p", "2.0.0"}});
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].name, "default-whitelist");
}

TEST(Assignment, PdpEventsAreParsed) {
  auto e = parse_event(json::parse(R"({"revision":9,"kind":"pdp.state_change","account":"",
      "subject":"canary","body":{"group":"canary","state":"ACTIVE","mode":"enforce"}})"));
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->pdp);
  EXPECT_EQ(e->pdp->group, "canary");
  EXPECT_EQ(e->pdp->mode, "enforce");
  EXPECT_FALSE(e->pdp->deleted);
  auto u = parse_event(json::parse(R"({"revision":10,"kind":"pdp.update","account":"",
      "subject":"canary","body":{"group":"canary","pdpSubgroup":"tc","policies":[]}})"));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->pdp->subgroup, "tc");
  auto d = parse_event(json::parse(R"({"revision":11,"kind":"pdp.state_change","account":"",
      "subject":"canary","body":{"group":"canary","state":"PASSIVE","mode":"bypass","deleted":true}})"));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->pdp->deleted);
}

TEST_F(CellTest, PdpEventsTouchNoApp) {
  cell_->begin_follow("web");
  auto apps = cell_->affected_apps({5, protocol::EventKind::PdpUpdate, "canary", {}});
  ASSERT_TRUE(apps);
  EXPECT_TRUE(apps->empty());
  cell_->end_follow("web");
}

}  // namespace
}  // namespace wiretag::agent
