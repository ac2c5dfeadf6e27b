// GET /metrics of the real wiretag-agent and wiretag-server: docs/metrics.md's table held
// against real scrapes of both, request counts that move, a denied ping between two
// containers on real veths counted as drop_policy, and the propagation histogram filled by
// an edge pushed from the server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../server/metrics_text.h"
#include "../server/temp_dir.h"
#include "agent_process.h"
#include "container.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AgentMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"metrics-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    ASSERT_EQ(sh("ip -n " + netns_.name() + " link add br0 type bridge && ip -n " + netns_.name() +
                 " link set br0 up"),
              0);
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(server_->port()),
                                 "--cell", "metrics-cell", "--listen", "127.0.0.1:0", "--pin-dir",
                                 pin_dir_, "--state-dir", (dir_.path() / "agent").string(),
                                 "--token-file", (dir_.path() / "cell-token").string(),
                                 "--heartbeat-interval", "200", "--max-policy-entries", "65536",
                                 "--max-endpoints", "64"},
        dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  MetricsText scrape_agent() const {
    auto r = agent_->tcp_request("GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    MetricsText m = parse_metrics_text(r.body);
    EXPECT_EQ(m.error, "") << r.body;
    return m;
  }
  MetricsText scrape_server() const {
    auto r = server_->get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    MetricsText m = parse_metrics_text(r.body);
    EXPECT_EQ(m.error, "") << r.body;
    return m;
  }

  json device(const std::string& ifname) const {
    return {{"namespace", netns_.path()}, {"interface_name", ifname}};
  }
  // wt0 (tag 0a01) and wt1 (tag 0b01, admitting only tag 0c01): a ping from wt0's container
  // to wt1's is tagged 0a01 by the stamp program and dropped by wt1's enforce program.
  void two_containers_without_an_edge() {
    a_ = std::make_unique<Container>(netns_, "wt0", "198.18.7.1");
    b_ = std::make_unique<Container>(netns_, "wt1", "198.18.7.2");
    ASSERT_TRUE(a_->ok() && b_->ok());
    auto r = agent_->request("POST", "/whitelist",
                             json{{"destination_device", device("wt0")},
                                  {"allowed_source_wire_bytes", json::array()},
                                  {"wire_bytes", "0a01"}}
                                 .dump());
    ASSERT_EQ(r.status, 200) << r.body;
    r = agent_->request("POST", "/whitelist",
                        json{{"destination_device", device("wt1")},
                             {"allowed_source_wire_bytes", {"0c01"}},
                             {"wire_bytes", "0b01"}}
                            .dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<Container> a_, b_;
};

const std::map<std::string, std::string> kDeniedByPolicy = {
    {"direction", "enforce"}, {"reason", "drop_policy"}, {"verdict", "drop"}};

TEST_F(AgentMetricsTest, DeniedPingCountsAsDropPolicy) {
  two_containers_without_an_edge();
  const double before = scrape_agent().value("wiretag_datapath_packets_total", kDeniedByPolicy);
  EXPECT_FALSE(a_->ping("198.18.7.2", 3));
  MetricsText after = scrape_agent();
  EXPECT_GE(after.value("wiretag_datapath_packets_total", kDeniedByPolicy) - before, 3);
  EXPECT_GT(after.value("wiretag_datapath_bytes_total", kDeniedByPolicy), 0);
  // The echo requests were stamped on their way out of the first container.
  EXPECT_GE(after.value("wiretag_datapath_packets_total",
                        {{"direction", "stamp"}, {"reason", "stamped"}, {"verdict", "pass"}}),
            3);
  EXPECT_EQ(after.value("wiretag_endpoints"), 2);
  EXPECT_EQ(after.value("wiretag_policy_map_entries", {{"map", "src"}}), 1);  // wt1's 0c01
  EXPECT_EQ(after.value("wiretag_policy_map_capacity", {{"map", "src"}}), 65536);
}

TEST_F(AgentMetricsTest, RequestCountsMoveOnTheAgent) {
  const std::map<std::string, std::string> health = {
      {"api", "plugin"}, {"route", "/healthz"}, {"method", "GET"}};
  const double before = scrape_agent().value("wiretag_http_requests_total", health);
  for (int i = 0; i < 3; ++i) EXPECT_NE(agent_->tcp_request("GET", "/healthz").status, 0);
  EXPECT_EQ(agent_->tcp_request("GET", "/nowhere").status, 404);
  MetricsText after = scrape_agent();
  EXPECT_EQ(after.value("wiretag_http_requests_total", health) - before, 3);
  EXPECT_EQ(after.value("wiretag_http_requests_total", {{"route", "unmatched"}, {"code", "404"}}),
            1);
  // The Plugin API on the unix socket counts into the same series.
  EXPECT_EQ(agent_->request("GET", "/whitelist").status, 200);
  EXPECT_EQ(scrape_agent().value("wiretag_http_requests_total",
                                 {{"route", "/whitelist"}, {"method", "GET"}, {"code", "200"}}),
            1);
}

TEST_F(AgentMetricsTest, PushedEdgeIsObservedAsPropagation) {
  a_ = std::make_unique<Container>(netns_, "wt0", "198.18.7.1");
  ASSERT_TRUE(a_->ok());
  for (const char* guid : {"metrics-web", "metrics-db"})
    ASSERT_EQ(server_->post("/app", json{{"guid", guid}}.dump()).status, 201);
  auto r = agent_->request(
      "POST", "/whitelist",
      json{{"destination_device", device("wt0")}, {"app_guid", "metrics-db"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const double before = scrape_agent().value("wiretag_policy_propagation_seconds_count");
  ASSERT_EQ(
      server_->post("/whitelist", R"({"source":"metrics-web","destination":"metrics-db"})").status,
      201);
  EXPECT_TRUE(eventually([&] {
    return scrape_agent().value("wiretag_policy_propagation_seconds_count") == before + 1;
  }));
  // Removing it goes through the query and the atomic replace: observed too.
  ASSERT_EQ(server_
                ->request("DELETE", "/whitelist",
                          R"({"source":"metrics-web","destination":"metrics-db"})")
                .status,
            200);
  EXPECT_TRUE(eventually([&] {
    return scrape_agent().value("wiretag_policy_propagation_seconds_count") == before + 2;
  }));
  EXPECT_EQ(scrape_agent().value("wiretag_watch_lag_revisions"), 0);
}

// docs/metrics.md's table: each row's family, type and binary.
struct DocumentedSeries {
  std::string name, type, binary;
};
std::vector<DocumentedSeries> documented() {
  std::ifstream in(std::string(WIRETAG_DOCS_DIR) + "/metrics.md");
  std::vector<DocumentedSeries> out;
  std::string line;
  // | `name` | type | labels | unit | binary | meaning |
  while (std::getline(in, line)) {
    if (!line.starts_with("| `wiretag_")) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    if (cells.size() < 6) continue;
    out.push_back({cells[0].substr(1, cells[0].size() - 2), cells[1], cells[4]});
  }
  return out;
}

TEST_F(AgentMetricsTest, DocumentedSeriesAreTheScrapedOnes) {
  // Traffic and a cell so that every family has samples: counters, the cell, requests.
  two_containers_without_an_edge();
  EXPECT_FALSE(a_->ping("198.18.7.2", 1));
  EXPECT_TRUE(eventually([&] {
    return server_->get("/internal/v1/cells/metrics-cell").json().value("healthy", false);
  }));
  EXPECT_NE(agent_->tcp_request("GET", "/healthz").status, 0);
  scrape_server();
  const std::vector<DocumentedSeries> docs = documented();
  ASSERT_GE(docs.size(), 10u) << "docs/metrics.md's table not found";
  const std::map<std::string, MetricsText> scraped = {{"server", scrape_server()},
                                                      {"agent", scrape_agent()}};
  for (const auto& [binary, text] : scraped) {
    std::set<std::string> expected;
    for (const DocumentedSeries& d : docs) {
      if (d.binary != binary && d.binary != "both") continue;
      expected.insert(d.name);
      auto type = text.types.find(d.name);
      if (type == text.types.end()) {
        ADD_FAILURE() << binary << " does not expose documented " << d.name;
        continue;
      }
      EXPECT_EQ(type->second, d.type) << binary << " " << d.name;
      EXPECT_TRUE(text.has_samples(d.name)) << binary << " " << d.name << " has no sample";
    }
    for (const auto& [family, type] : text.types)
      if (family.starts_with("wiretag_")) {
        EXPECT_TRUE(expected.count(family)) << binary << " exposes undocumented " << family;
      }
  }
}

}  // namespace
}  // namespace wiretag::test
