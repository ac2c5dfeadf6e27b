// The server's requests to a cell through the real wiretag-server and the real wiretag-agent:
// the request rides the agent's own streamed watch, the agent runs the op off the watch thread
// and POSTs the answer back (server/cell_requests.h, agent/cell_requests.h). Needs root (the
// agent owns BPF maps and attaches to veths in a namespace the test made).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../server/temp_dir.h"
#include "agent_process.h"
#include "datapath/datapath.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class CellRequestAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"test-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    ASSERT_TRUE(netns_.add_veth("wt0"));
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(server_->port()),
                                 "--cell", "test-cell", "--listen", "127.0.0.1:0", "--pin-dir",
                                 pin_dir_, "--state-dir", (dir_.path() / "agent").string(),
                                 "--token-file", (dir_.path() / "cell-token").string(),
                                 "--heartbeat-interval", "200", "--max-endpoints", "16"},
        dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }
  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  HttpResult op(const std::string& name, const json& body = json::object()) {
    return server_->post("/v1/cells/test-cell/ops/" + name, body.dump());
  }
  // The status op once the agent's watch is open and it has synced.
  json healthy_status() {
    json result;
    EXPECT_TRUE(eventually([&] {
      auto r = op("status");
      if (r.status != 200) return false;
      result = r.json()["result"];
      return result.value("healthy", false);
    })) << agent_->log_text();
    return result;
  }
  void register_app(const std::string& guid) {
    auto r = server_->post("/app", json{{"guid", guid}}.dump());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  json device(const std::string& ifname) const {
    return {{"namespace", netns_.path()}, {"interface_name", ifname}};
  }
  // The rule entries the maps hold for the device.
  size_t enforced_rules(const std::string& ifname) const {
    datapath::Options o;
    o.pin_dir = pin_dir_;
    o.read_only = true;
    o.max_endpoints = 16;
    auto dp = datapath::Datapath::open(o);
    if (!dp) return 0;
    for (const datapath::Endpoint& ep : (*dp)->endpoints())
      if (ep.device.ifname == ifname) return ep.rules_src_entries;
    return 0;
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(CellRequestAgentTest, TheStatusOpComesBackFromTheAgent) {
  json status = healthy_status();
  EXPECT_EQ(status["cell"], "test-cell");
  EXPECT_EQ(status["endpoints"], 0);
  EXPECT_EQ(status["synced"], true);
  EXPECT_EQ(status["connected"], true);
  EXPECT_TRUE(status["revision"].is_number_integer());
  EXPECT_EQ(status["group"], "defaultGroup");
  EXPECT_TRUE(status.contains("mode"));
  EXPECT_TRUE(status["policies"].is_array());
  // How full the hash maps are (the services API's engine status).
  EXPECT_EQ(status["map_fill"]["endpoints"]["entries"], 0);
  EXPECT_EQ(status["map_fill"]["endpoints"]["capacity"], 16);  // --max-endpoints
  EXPECT_GT(status["map_fill"]["flows"]["capacity"], 0);
}

TEST_F(CellRequestAgentTest, AnOpTheAgentDoesNotKnowIs501) {
  healthy_status();
  auto r = op("no-such-op");
  EXPECT_EQ(r.status, 501) << r.body;
  EXPECT_EQ(r.error_code(), "CELL_OP_UNSUPPORTED");
}

TEST_F(CellRequestAgentTest, ChangesStillFlowOnTheWatchAndNoResyncIsCaused) {
  healthy_status();
  register_app("a");
  register_app("b");
  auto put = agent_->request("POST", "/whitelist",
                             json{{"destination_device", device("wt0")},
                                  {"allowed_source_wire_bytes", json::array()},
                                  {"app_guid", "b"}}
                                 .dump());
  ASSERT_EQ(put.status, 200) << put.body;
  // The server learns from PDP_STATUS where b's endpoint is.
  EXPECT_TRUE(eventually([&] {
    json cell = server_->get("/internal/v1/cells/test-cell").json();
    return cell["hostedApps"] == json::array({"b"});
  }));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(op("status").status, 200);
  EXPECT_EQ(op("status").json()["result"]["endpoints"], 1);
  // An edge into b reaches the datapath through the watch, between requests.
  ASSERT_EQ(server_->post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  EXPECT_TRUE(eventually([&] { return enforced_rules("wt0") == 1; })) << agent_->log_text();
  EXPECT_EQ(op("status").status, 200);
  const std::string log = agent_->log_text();
  EXPECT_EQ(count(log, "resynced"), 1u) << log;  // the start's, and no other
  EXPECT_EQ(count(log, "watch: "), 0u) << log;   // no watch error, no reconnect
  // Removed, the app is no longer hosted here.
  ASSERT_EQ(
      agent_->request("DELETE", "/whitelist", json{{"destination_device", device("wt0")}}.dump())
          .status,
      200);
  EXPECT_TRUE(eventually([&] {
    return server_->get("/internal/v1/cells/test-cell").json()["hostedApps"] == json::array();
  }));
}

// POST /v1/trace on the server: routed to this cell (it hosts the destination), run by the
// agent's TraceService through the real programs on the live maps, with the versions holding
// the matched rule added by the server.
TEST_F(CellRequestAgentTest, AServerTraceRunsOnTheCellHostingTheDestination) {
  healthy_status();
  register_app("db");
  register_app("web");
  auto r = server_->post("/app", json{{"guid", "web"}}.dump());
  const std::string web = r.json().value("wire_bytes", "");
  ASSERT_EQ(server_
                ->post("/whitelist", R"({"source":"web","destination":"db","protocol":"tcp",
                                            "ports":{"start":5432,"end":5432}})")
                .status,
            201);
  auto put = agent_->request(
      "POST", "/whitelist", json{{"destination_device", device("wt0")}, {"app_guid", "db"}}.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_TRUE(eventually([&] {
    return server_->get("/internal/v1/cells/test-cell").json()["hostedApps"] == json::array({"db"});
  }));
  auto trace = [&](json body) {
    auto t = server_->post("/v1/trace", body.dump());
    EXPECT_EQ(t.status, 200) << body.dump() << " → " << t.body;
    return t.json();
  };
  // "web" has no device here: the server's source_tag tells the cell its tag.
  json allowed =
      trace({{"source", "web"}, {"destination", "db"}, {"protocol", "tcp"}, {"port", 5432}});
  EXPECT_EQ(allowed["cell"], "test-cell");
  EXPECT_EQ(allowed["verdict"], "pass");
  EXPECT_EQ(allowed["reason"], "allow_rule");
  EXPECT_EQ(allowed["rule"]["source"], web);
  EXPECT_EQ(allowed["source"]["resolved"], "source_tag");
  EXPECT_EQ(allowed["endpoint"]["app_guid"], "db");
  EXPECT_EQ(allowed["policies"],
            (json::array({{{"name", "default-whitelist"}, {"version", "1.0.0"}}})));
  json v6 = trace({{"source", "web"},
                   {"destination", "db"},
                   {"protocol", "tcp"},
                   {"port", 5432},
                   {"ipv6", true}});
  EXPECT_EQ(v6["verdict"], "pass");
  json denied =
      trace({{"source", "web"}, {"destination", "db"}, {"protocol", "tcp"}, {"port", 5433}});
  EXPECT_EQ(denied["verdict"], "drop");
  EXPECT_EQ(denied["reason"], "drop_policy");
  EXPECT_EQ(denied["rule"], nullptr);
  EXPECT_FALSE(denied.contains("policies"));
  json reply = trace({{"source", "web"},
                      {"destination", "db"},
                      {"protocol", "udp"},
                      {"port", 53},
                      {"reply", true}});
  EXPECT_EQ(reply["verdict"], "pass");
  EXPECT_EQ(reply["reason"], "allow_reply");
  // Audit: the group in TEST makes the same packet a would-drop.
  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=TEST").status, 200);
  EXPECT_TRUE(eventually([&] {
    return trace({{"source", "web"}, {"destination", "db"}, {"protocol", "tcp"}, {"port", 5433}})
               .value("verdict", "") == "would-drop";
  })) << agent_->log_text();
  // The cell's own refusal comes back with its code: no device of "web" is here.
  r = server_->post("/v1/trace", json{{"source", "db"},
                                      {"destination", "web"},
                                      {"protocol", "tcp"},
                                      {"port", 80},
                                      {"cell", "test-cell"}}
                                     .dump());
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.error_code(), "ENDPOINT_NOT_FOUND");
}

}  // namespace
}  // namespace wiretag::test
