// `wiretag trace --agent …`: the real binary against a real agent's Plugin API (POST
// /v1/trace) following apps of a real server, on veths in a namespace the test made.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <random>

#include "../agent/agent_process.h"
#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class TraceCli : public CliServerTest {
 protected:
  void TearDown() override {
    agent_.reset();
    if (!pin_dir_.empty()) sh("rm -rf " + pin_dir_);
  }

  void start_agent() {
    auto issued = s().post("/v1/tokens", R"({"scopes":["cell"],"cell":"cell-t"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    const std::string token = write_file("cell.token", issued.json().value("token", "") + "\n");
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-tracecli-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server", server_url(), "--cell", "cell-t", "--listen",
                                 "127.0.0.1:0", "--pin-dir", pin_dir_, "--state-dir",
                                 (dir_.path() / "agent").string(), "--token-file", token},
        dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  CliResult trace(std::vector<std::string> args) {
    args.insert(args.begin(), {"--agent", "unix:" + agent_->plugin_socket().string(), "trace"});
    return cli(args);
  }

  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(TraceCli, TraceThroughTheAgent) {
  ASSERT_TRUE(netns_.add_veth("wtt0"));
  ASSERT_TRUE(netns_.add_veth("wtt1"));
  start_agent();
  ASSERT_EQ(cli({"app", "register", "db"}).status, 0);
  ASSERT_EQ(cli({"app", "register", "web"}).status, 0);
  const std::string web_tag = s().get("/app/web").json().value("wire_bytes", "");
  auto e = s().post("/whitelist", R"({"source":"web","destination":"db","protocol":"tcp",
                                      "ports":{"start":5432,"end":5432}})");
  ASSERT_TRUE(e.status == 200 || e.status == 201) << e.body;
  for (auto [dev, app] : {std::pair{"wtt0", "db"}, std::pair{"wtt1", "web"}})
    ASSERT_EQ(agent_
                  ->request("POST", "/whitelist",
                            json{{"destination_device",
                                  {{"namespace", netns_.path()}, {"interface_name", dev}}},
                                 {"app_guid", app}}
                                .dump())
                  .status,
              200);

  auto r = trace({"--from", "web", "--to", "db", "--proto", "tcp", "--port", "5432", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["verdict"], "pass");
  EXPECT_EQ(r.json()["rule"]["source"], web_tag);

  r = trace({"--from", "web", "--to", "db", "--proto", "tcp", "--port", "5433"});
  ASSERT_EQ(r.status, 0) << describe(r);
  for (const char* want : {"VERDICT", "drop", "drop_policy", "enforce", "db", "cell-t"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;

  // By device, as the agent names it; a reply; yaml.
  r = trace({"--to-dev", "wtt0", "--netns", netns_.path(), "--from-tag", web_tag, "--proto", "udp",
             "--port", "53", "--reply", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.yaml()["reason"].as<std::string>(), "allow_reply");

  // The agent's refusals exit 1 with their error_code; usage errors exit 2.
  r = trace({"--from", "nobody", "--to", "db", "--proto", "tcp", "--port", "5432"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("SOURCE_TAG_UNKNOWN"), std::string::npos) << r.err;
  r = trace({"--from", "web", "--to", "nowhere", "--proto", "tcp", "--port", "5432"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("ENDPOINT_NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_EQ(trace({"--from", "web", "--to", "db", "--proto", "tcp"}).status, 2);
  EXPECT_EQ(trace({"--from", "web", "--to", "db", "--proto", "icmp", "--port", "1"}).status, 2);
  EXPECT_EQ(trace({"--from", "web", "--proto", "icmp"}).status, 2);
}

// Without --agent: the server forwards the trace to the cell hosting the destination over the
// cell's watch (server/cell_requests.h), and adds the cell and the versions holding the rule.
TEST_F(TraceCli, TraceThroughTheServer) {
  ASSERT_TRUE(netns_.add_veth("wtt0"));
  start_agent();
  ASSERT_EQ(cli({"app", "register", "db"}).status, 0);
  ASSERT_EQ(cli({"app", "register", "web"}).status, 0);
  auto e = s().post("/whitelist", R"({"source":"web","destination":"db","protocol":"tcp",
                                      "ports":{"start":5432,"end":5432}})");
  ASSERT_TRUE(e.status == 200 || e.status == 201) << e.body;
  ASSERT_EQ(agent_
                ->request("POST", "/whitelist",
                          json{{"destination_device",
                                {{"namespace", netns_.path()}, {"interface_name", "wtt0"}}},
                               {"app_guid", "db"}}
                              .dump())
                .status,
            200);
  CliResult r;
  // Until the agent's PDP_STATUS has told the server it hosts db (a liveness bound).
  for (int i = 0; i < 500; ++i) {
    r = cli(
        {"trace", "--from", "web", "--to", "db", "--proto", "tcp", "--port", "5432", "-o", "json"});
    if (r.status == 0) break;
    usleep(20000);
  }
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["verdict"], "pass");
  EXPECT_EQ(r.json()["cell"], "cell-t");
  EXPECT_EQ(r.json()["policies"],
            (json::array({{{"name", "default-whitelist"}, {"version", "1.0.0"}}})));
  r = cli({"trace", "--from", "web", "--to", "nowhere", "--proto", "tcp", "--port", "1"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("APP_NOT_FOUND"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace wiretag::test
