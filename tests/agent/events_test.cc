// Drop and audit events with names, through the real wiretag-agent and wiretag-server:
// containers on real veths in a namespace the test makes send packets the datapath drops,
// and readers of the agent's GET /v1/events (unix socket, TCP) and of the server's see them
// with app guids, accounts, tags, device, protocol, reason and the explanation; two readers
// each see every event, filters select, bad filters are 400 with specific codes, and the
// events the datapath's rate limit suppressed are reported as lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "../server/temp_dir.h"
#include "agent_process.h"
#include "container.h"
#include "event_reader.h"

namespace wiretag::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kCell = "events-cell";
const std::string kWeb = "198.18.9.1", kDb = "198.18.9.2", kApi = "198.18.9.3";

class AgentEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", kCell}}.dump());
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    std::ofstream(dir_.path() / "plugin-token") << "plugin-secret\n";
    // The bridge sends no IGMP or MLD reports of its own: the drops a test counts are its own.
    ASSERT_EQ(sh("ip -n " + netns_.name() + " link add br0 type bridge mcast_snooping 0 && ip -n " +
                 netns_.name() + " link set br0 multicast off up"),
              0);
    for (const char* guid : {"web", "db", "api"})
      ASSERT_EQ(server_->post("/app", json{{"guid", guid}}.dump()).status, 201);
    // web may reach db on udp/8080 only; api may reach db not at all.
    ASSERT_EQ(server_
                  ->post("/whitelist", json{{"source", "web"},
                                            {"destination", "db"},
                                            {"protocol", "udp"},
                                            {"ports", {{"start", 8080}, {"end", 8080}}}}
                                           .dump())
                  .status,
              201);
  }

  void TearDown() override {
    containers_.clear();
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  void start_agent(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--server",
                                  "http://127.0.0.1:" + std::to_string(server_->port()),
                                  "--cell",
                                  kCell,
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--pin-dir",
                                  pin_dir_,
                                  "--state-dir",
                                  (dir_.path() / "agent").string(),
                                  "--token-file",
                                  (dir_.path() / "cell-token").string(),
                                  "--heartbeat-interval",
                                  "200",
                                  "--max-policy-entries",
                                  "65536",
                                  "--max-endpoints",
                                  "64",
                                  "--plugin-tcp",
                                  "--plugin-token-file",
                                  (dir_.path() / "plugin-token").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<AgentProcess>(args, dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  json device(const std::string& ifname) const {
    return {{"namespace", netns_.path()}, {"interface_name", ifname}};
  }
  std::string wire_bytes(const std::string& guid) const {
    return server_->get("/app/" + guid).json().value("wire_bytes", "");
  }

  // web (wt0) and db (wt1) follow their apps; api (wt2) is a static device with api's tag,
  // so the cell knows api only by its tag and asks the server for its name.
  void three_containers() {
    for (auto [ifname, ip] : {std::pair{"wt0", kWeb}, {"wt1", kDb}, {"wt2", kApi}}) {
      containers_[ifname] = std::make_unique<Container>(netns_, ifname, ip);
      ASSERT_TRUE(containers_[ifname]->ok());
    }
    for (auto [ifname, guid] : {std::pair{"wt0", "web"}, {"wt1", "db"}}) {
      auto r =
          agent_->request("POST", "/whitelist",
                          json{{"destination_device", device(ifname)}, {"app_guid", guid}}.dump());
      ASSERT_EQ(r.status, 200) << r.body;
    }
    auto r = agent_->request("POST", "/whitelist",
                             json{{"destination_device", device("wt2")},
                                  {"allowed_source_wire_bytes", json::array()},
                                  {"wire_bytes", wire_bytes("api")}}
                                 .dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  Container& web() { return *containers_.at("wt0"); }
  Container& api() { return *containers_.at("wt2"); }

  std::unique_ptr<EventReader> agent_reader(const std::string& query = "") {
    auto reader = std::make_unique<EventReader>(agent_->plugin_socket(), "/v1/events" + query);
    EXPECT_TRUE(reader->wait_started()) << reader->status() << " " << reader->body();
    return reader;
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
};

TEST_F(AgentEventsTest, DropOnAnotherPortIsNamedAndExplained) {
  start_agent();
  three_containers();
  auto reader = agent_reader();
  ASSERT_TRUE(web().send_udp(kDb, 5432, 1));
  ASSERT_TRUE(eventually([&] { return reader->events().size() >= 1; })) << agent_->log_text();
  const json e = reader->events().at(0);
  EXPECT_EQ(e["type"], "drop");
  EXPECT_EQ(e["cell"], kCell);
  EXPECT_EQ(e["reason"], "drop_policy");
  EXPECT_EQ(e["verdict"], "drop");
  EXPECT_EQ(e["mode"], "enforce");
  EXPECT_EQ(e["direction"], "enforce");
  EXPECT_EQ(e["protocol"], "udp");
  EXPECT_EQ(e["source"]["app"], "web");
  EXPECT_EQ(e["source"]["account"], "default");
  EXPECT_EQ(e["source"]["tag"], wire_bytes("web"));
  EXPECT_EQ(e["source"]["address"], kWeb);
  EXPECT_EQ(e["destination"]["app"], "db");
  EXPECT_EQ(e["destination"]["account"], "default");
  EXPECT_EQ(e["destination"]["tag"], wire_bytes("db"));
  EXPECT_EQ(e["destination"]["address"], kDb);
  EXPECT_EQ(e["destination"]["port"], 5432);
  EXPECT_EQ(e["destination"]["device"], device("wt1"));
  EXPECT_TRUE(e["time"].is_string());
  EXPECT_EQ(e["explanation"],
            "no rule from web to db on udp/5432; web→db allows udp/8080 (default-whitelist)");
}

TEST_F(AgentEventsTest, DropWithoutAnEdgeNamesTheSourceTheServerKnows) {
  start_agent();
  three_containers();
  auto reader = agent_reader();
  ASSERT_TRUE(api().send_udp(kDb, 5432, 1));
  ASSERT_TRUE(eventually([&] { return reader->events().size() >= 1; })) << agent_->log_text();
  const json e = reader->events().at(0);
  EXPECT_EQ(e["source"]["app"], "api");
  EXPECT_EQ(e["source"]["account"], "default");
  EXPECT_EQ(e["source"]["tag"], wire_bytes("api"));
  EXPECT_EQ(e["destination"]["app"], "db");
  EXPECT_EQ(e["explanation"], "no rule from api to db on udp/5432; api→db allows nothing");
}

TEST_F(AgentEventsTest, TwoReadersEachSeeEveryEvent) {
  start_agent();
  three_containers();
  auto first = agent_reader();
  auto second = agent_reader();
  ASSERT_TRUE(web().send_udp(kDb, 5432, 5));
  ASSERT_TRUE(
      eventually([&] { return first->events().size() >= 5 && second->events().size() >= 5; }));
  std::this_thread::sleep_for(300ms);  // nothing more comes
  EXPECT_EQ(first->events().size(), 5u);
  EXPECT_EQ(first->events(), second->events());
}

TEST_F(AgentEventsTest, FiltersSelectByAppReasonAndVerdict) {
  start_agent();
  three_containers();
  auto all = agent_reader();
  auto from_api = agent_reader("?app=api");
  auto untagged = agent_reader("?reason=drop_untagged,drop_spoofed");
  auto audited = agent_reader("?verdict=pass");
  auto policy_drops = agent_reader("?app=web,db&reason=drop_policy&verdict=drop");
  ASSERT_TRUE(web().send_udp(kDb, 5432, 2));
  ASSERT_TRUE(api().send_udp(kDb, 5432, 1));
  ASSERT_TRUE(eventually([&] { return all->events().size() >= 3; }));
  ASSERT_TRUE(eventually([&] { return policy_drops->events().size() >= 3; }));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(from_api->events().size(), 1u);
  EXPECT_EQ(from_api->events()[0]["source"]["app"], "api");
  EXPECT_EQ(untagged->events().size(), 0u);
  EXPECT_EQ(audited->events().size(), 0u);
  EXPECT_EQ(policy_drops->events().size(), 3u);
}

TEST_F(AgentEventsTest, BadFilterValuesAre400WithSpecificCodes) {
  start_agent();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"?reason=drop_everything", "INVALID_REASON"},    {"?verdict=maybe", "INVALID_VERDICT"},
      {"?app=no%20such%20guid", "INVALID_APP_GUID"},    {"?colour=red", "INVALID_QUERY"},
      {"?cell=" + std::string(kCell), "INVALID_QUERY"},  // the agent is one cell
  };
  for (const auto& [query, code] : cases) {
    auto r = agent_->request("GET", "/v1/events" + query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(r.error_code(), code) << query << " " << r.body;
  }
  for (const auto& [query, code] : std::vector<std::pair<std::string, std::string>>{
           {"?reason=nope", "INVALID_REASON"},
           {"?cell=bad%2Fname", "INVALID_CELL_NAME"},
           {"?verdict=drop,maybe", "INVALID_VERDICT"}}) {
    auto r = server_->get("/v1/events" + query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(r.error_code(), code) << query << " " << r.body;
  }
}

TEST_F(AgentEventsTest, TcpStreamNeedsThePluginToken) {
  start_agent();
  EXPECT_EQ(agent_->tcp_request("GET", "/v1/events").status, 401);
  EventReader reader(agent_->port(), "/v1/events", "plugin-secret");
  EXPECT_TRUE(reader.wait_started());
}

TEST_F(AgentEventsTest, EventsLostToTheRateLimitAreReported) {
  start_agent({"--events-per-sec", "2"});
  three_containers();
  auto reader = agent_reader();
  ASSERT_TRUE(web().send_udp(kDb, 5432, 40));
  // Every drop is either sent or counted lost: none disappears unreported.
  EXPECT_TRUE(eventually([&] {
    return reader->events().size() + reader->lost("rate_limit") >= 40;
  })) << reader->events().size()
      << " events, " << reader->lost("rate_limit") << " lost";
  EXPECT_GT(reader->lost("rate_limit"), 0u);
  EXPECT_EQ(reader->events().size() + reader->lost("rate_limit"), 40u);
}

TEST_F(AgentEventsTest, ServerAggregatesTheCellsEvents) {
  start_agent();
  three_containers();
  const std::string admin = server_->admin_token();
  EventReader everything(server_->port(), "/v1/events", admin);
  EventReader this_cell(server_->port(), "/v1/events?cell=" + std::string(kCell) + "&app=api",
                        admin);
  EventReader other_cell(server_->port(), "/v1/events?cell=elsewhere", admin);
  auto token = [&](const std::string& account) {
    auto r = server_->post("/v1/tokens",
                           json{{"scopes", {"network.write"}}, {"accounts", {account}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  };
  EventReader own_account(server_->port(), "/v1/events", token("default"));
  EventReader foreign_account(server_->port(), "/v1/events", token("acme"));
  for (EventReader* r : {&everything, &this_cell, &other_cell, &own_account, &foreign_account})
    ASSERT_TRUE(r->wait_started()) << r->status() << " " << r->body();
  ASSERT_TRUE(web().send_udp(kDb, 5432, 2));
  ASSERT_TRUE(api().send_udp(kDb, 5432, 1));
  ASSERT_TRUE(eventually([&] { return everything.events().size() >= 3; }));
  ASSERT_TRUE(eventually([&] { return own_account.events().size() >= 3; }));
  std::this_thread::sleep_for(500ms);
  for (const json& e : everything.events()) {
    EXPECT_EQ(e["cell"], kCell);
    EXPECT_EQ(e["destination"]["app"], "db");
  }
  ASSERT_EQ(this_cell.events().size(), 1u);
  EXPECT_EQ(this_cell.events()[0]["source"]["app"], "api");
  EXPECT_EQ(this_cell.events()[0]["explanation"],
            "no rule from api to db on udp/5432; api→db allows nothing");
  EXPECT_EQ(other_cell.events().size(), 0u);
  EXPECT_EQ(own_account.events().size(), 3u);
  EXPECT_EQ(foreign_account.events().size(), 0u) << "acme sees nothing of default's apps";
  // A cell credential pushes only as its own cell.
  auto pushed =
      server_->request("POST", "/internal/v1/cells/another-cell/events", R"({"events":[]})", [&] {
        std::ifstream in(dir_.path() / "cell-token");
        std::string t;
        std::getline(in, t);
        return t;
      }());
  EXPECT_EQ(pushed.status, 403) << pushed.body;
  EXPECT_EQ(pushed.error_code(), "CELL_MISMATCH");
}

}  // namespace
}  // namespace wiretag::test
