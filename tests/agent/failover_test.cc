// Agents fail over (issue 20): the real wiretag-agent given two --server URLs, the first
// server killed with SIGKILL. The agent moves to the second and enforces what it serves; on a
// server of the same store it resumes its watch from its revision without a full resync, on
// another store it resyncs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "../server/metrics_text.h"
#include "../server/temp_dir.h"
#include "agent_process.h"
#include "datapath/datapath.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    ASSERT_TRUE(netns_.add_veth("wt0"));
  }
  void TearDown() override {
    agent_.reset();
    a_.reset();
    b_.reset();
    sh("rm -rf " + pin_dir_);
  }

  static std::string url(const ServerProcess& s) {
    return "http://127.0.0.1:" + std::to_string(s.port());
  }

  void start_agent(const std::string& token_file) {
    std::vector<std::string> args = {"--server",
                                     url(*a_) + "," + url(*b_),
                                     "--cell",
                                     "fo-cell",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--pin-dir",
                                     pin_dir_,
                                     "--state-dir",
                                     (dir_.path() / "agent").string(),
                                     "--token-file",
                                     token_file,
                                     "--heartbeat-interval",
                                     "200",
                                     "--sweep-interval",
                                     "200",
                                     "--max-policy-entries",
                                     "65536",
                                     "--max-endpoints",
                                     "64"};
    agent_ = std::make_unique<AgentProcess>(args, dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  MetricsText scrape() const {
    return parse_metrics_text(agent_->tcp_request("GET", "/metrics").body);
  }
  bool holds(const ServerProcess& s) const {
    return scrape().value("wiretag_server_held", {{"server", url(s)}}) == 1;
  }

  void follow(const std::string& app) {
    auto r = agent_->request(
        "POST", "/whitelist",
        json{{"destination_device", {{"namespace", netns_.path()}, {"interface_name", "wt0"}}},
             {"app_guid", app}}
            .dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::optional<datapath::Endpoint> enforced() const {
    datapath::Options o;
    o.pin_dir = pin_dir_;
    o.read_only = true;
    o.max_policy_entries = 65536;
    o.max_endpoints = 64;
    auto dp = datapath::Datapath::open(o);
    if (!dp) return std::nullopt;
    for (auto& ep : (*dp)->endpoints())
      if (ep.device.ifname == "wt0") return ep;
    return std::nullopt;
  }

  // Whether wt0's rules admit `tag` on every protocol and port.
  bool admits(uint32_t tag) const {
    datapath::Options o;
    o.pin_dir = pin_dir_;
    o.read_only = true;
    o.max_policy_entries = 65536;
    o.max_endpoints = 64;
    auto dp = datapath::Datapath::open(o);
    if (!dp) return false;
    for (const datapath::Endpoint& ep : (*dp)->endpoints()) {
      if (ep.device.ifname != "wt0") continue;
      wt_src_key key{};
      key.ifindex = ep.ifindex;
      key.src_tag = tag;
      key.generation = ep.config.generation & 1;
      auto v = (*dp)->src_policy_map().lookup(key);
      return v && v->any_proto;
    }
    return false;
  }

  static uint32_t register_app(const ServerProcess& s, const std::string& guid) {
    auto r = s.post("/app", json{{"guid", guid}}.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
    return static_cast<uint32_t>(std::stoul(r.json().value("wire_bytes", "0"), nullptr, 16));
  }
  static void allow(const ServerProcess& s, const std::string& src, const std::string& dst) {
    auto r = s.post("/whitelist", json{{"source", src}, {"destination", dst}}.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> a_, b_;
  std::unique_ptr<AgentProcess> agent_;
};

// Two servers of one store (the second's data a copy of the first's, as two servers on one
// PostgreSQL see one store): the agent moves to the second, resumes its watch from the
// revision it had applied, and takes the change the second committed from the watch alone.
TEST_F(FailoverTest, SameStoreResumesFromItsRevisionWithoutResync) {
  a_ = std::make_unique<ServerProcess>(dir_.path() / "a");
  ASSERT_TRUE(a_->started());
  auto issued = a_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"fo-cell"})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
  register_app(*a_, "app-dst");
  const uint32_t src1 = register_app(*a_, "app-src1");
  const uint32_t src2 = register_app(*a_, "app-src2");
  allow(*a_, "app-src1", "app-dst");
  a_->terminate();  // SIGTERM: its data is complete on disk
  ASSERT_EQ(sh("cp -a " + (dir_.path() / "a").string() + " " + (dir_.path() / "b").string()), 0);
  a_ = std::make_unique<ServerProcess>(dir_.path() / "a");
  b_ = std::make_unique<ServerProcess>(dir_.path() / "b");
  ASSERT_TRUE(a_->started() && b_->started());
  ASSERT_EQ(a_->get("/internal/v1/status").json()["store_id"],
            b_->get("/internal/v1/status").json()["store_id"]);

  start_agent((dir_.path() / "cell-token").string());
  follow("app-dst");
  ASSERT_TRUE(eventually([&] { return admits(src1); }));
  EXPECT_TRUE(holds(*a_)) << agent_->log_text();
  EXPECT_FALSE(holds(*b_));
  ASSERT_TRUE(eventually([&] { return scrape().value("wiretag_resyncs_total") >= 1; }));
  const double resyncs = scrape().value("wiretag_resyncs_total");

  // A change only the second server has: the next revision of the store.
  allow(*b_, "app-src2", "app-dst");
  a_->kill_hard();
  EXPECT_TRUE(eventually([&] { return holds(*b_); })) << agent_->log_text();
  EXPECT_TRUE(eventually([&] { return admits(src2); })) << agent_->log_text();
  EXPECT_TRUE(admits(src1));
  EXPECT_EQ(scrape().value("wiretag_server_failovers_total"), 1);
  // Resumed from its revision: no full resync, the event came from the second's watch.
  EXPECT_EQ(scrape().value("wiretag_resyncs_total"), resyncs) << agent_->log_text();
  EXPECT_NE(agent_->log_text().find("following server " + url(*b_)), std::string::npos)
      << agent_->log_text();
  // And it keeps following the second server.
  const uint32_t src3 = register_app(*b_, "app-src3");
  allow(*b_, "app-src3", "app-dst");
  EXPECT_TRUE(eventually([&] { return admits(src3); })) << agent_->log_text();
  EXPECT_EQ(scrape().value("wiretag_resyncs_total"), resyncs);
  EXPECT_TRUE(eventually(
      [&] { return b_->get("/internal/v1/cells/fo-cell").json().value("healthy", false); }));
}

// Two servers of different stores: on the second the agent's revision means nothing (another
// store_id), so it resyncs and enforces what the second serves.
TEST_F(FailoverTest, AnotherStoreIsResyncedAndWhatItServesIsEnforced) {
  a_ = std::make_unique<ServerProcess>(dir_.path() / "a",
                                       std::vector<std::string>{"--insecure-no-auth"});
  b_ = std::make_unique<ServerProcess>(dir_.path() / "b",
                                       std::vector<std::string>{"--insecure-no-auth"});
  ASSERT_TRUE(a_->started() && b_->started());
  const uint32_t dst_a = register_app(*a_, "app-dst");
  const uint32_t src1 = register_app(*a_, "app-src1");
  allow(*a_, "app-src1", "app-dst");
  const uint32_t dst_b = register_app(*b_, "app-dst");
  const uint32_t other = register_app(*b_, "app-other");  // tag of src1 on a: not allowed on b
  const uint32_t src2 = register_app(*b_, "app-src2");
  allow(*b_, "app-src2", "app-dst");
  ASSERT_EQ(dst_a, dst_b);
  ASSERT_EQ(other, src1);

  std::ofstream(dir_.path() / "any-token") << "unchecked\n";  // --insecure-no-auth servers
  start_agent((dir_.path() / "any-token").string());
  follow("app-dst");
  ASSERT_TRUE(eventually([&] { return admits(src1); }));
  ASSERT_FALSE(admits(src2));
  EXPECT_TRUE(holds(*a_));
  const double resyncs = scrape().value("wiretag_resyncs_total");

  a_->kill_hard();
  EXPECT_TRUE(eventually([&] { return holds(*b_); })) << agent_->log_text();
  EXPECT_TRUE(eventually([&] { return admits(src2) && !admits(src1); })) << agent_->log_text();
  EXPECT_EQ(enforced()->rules_src_entries, 1u);
  EXPECT_GT(scrape().value("wiretag_resyncs_total"), resyncs);
  EXPECT_EQ(scrape().value("wiretag_server_failovers_total"), 1);
}

}  // namespace
}  // namespace wiretag::test
