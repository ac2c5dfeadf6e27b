// The agent's logs, from the real binary's output: --log-format json, the access log on the
// Plugin API socket and on --listen, and the log level changed at run time on the socket.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "../server/temp_dir.h"
#include "agent_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AgentLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"log-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  void start_agent(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "--server",     "http://127.0.0.1:" + std::to_string(server_->port()),
        "--cell",       "log-cell",
        "--listen",     "127.0.0.1:0",
        "--pin-dir",    pin_dir_,
        "--state-dir",  (dir_.path() / "agent").string(),
        "--token-file", (dir_.path() / "cell-token").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    log_ = dir_.path() / "agent.log";
    agent_ = std::make_unique<AgentProcess>(args, log_);
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  std::vector<std::string> lines() const {
    std::ifstream in(log_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }

  bool logged(const std::string& text) const {
    for (const std::string& line : lines())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

  // A request whose head Beast cannot parse, on the Plugin API socket: the agent answers 400
  // and logs why at debug.
  void send_malformed() const {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::local::stream_protocol::socket sock(ioc);
    sock.connect(asio::local::stream_protocol::endpoint(agent_->plugin_socket().string()));
    const std::string bad = "GET /whitelist HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n";
    asio::write(sock, asio::buffer(bad));
    std::string answer(4096, '\0');
    boost::system::error_code ec;
    const size_t n = asio::read(sock, asio::buffer(answer), ec);  // until the agent closes
    answer.resize(n);
    EXPECT_NE(answer.find(" 400 "), std::string::npos) << answer;
  }

  TempDir dir_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  std::filesystem::path log_;
};

TEST_F(AgentLogsTest, EveryLineIsAJsonRecordAndTheAccessLogNamesEachCaller) {
  start_agent({"--log-format", "json"});
  EXPECT_EQ(agent_->request("GET", "/whitelist").status, 200);
  // 200 once the first resync is applied, 503 before: either way one request.
  const int health = agent_->tcp_request("GET", "/healthz").status;
  EXPECT_NE(health, 0);
  ASSERT_EQ(agent_->terminate(), 0);
  std::vector<json> access;
  bool plugin_socket = false;
  for (const std::string& line : lines()) {
    json r = json::parse(line, nullptr, false);
    ASSERT_TRUE(r.is_object()) << "not a JSON object: " << line;
    EXPECT_EQ(r.value("program", ""), "wiretag-agent") << line;
    EXPECT_TRUE(r.contains("time") && r.contains("level") && r.contains("message")) << line;
    if (r.value("logger", "") == "access") access.push_back(r);
    if (r.value("plugin_socket", "") == agent_->plugin_socket().string()) plugin_socket = true;
  }
  EXPECT_TRUE(plugin_socket);
  ASSERT_EQ(access.size(), 2u);
  EXPECT_EQ(access[0]["route"], "/whitelist");
  EXPECT_EQ(access[0]["status"], 200);
  EXPECT_EQ(access[0]["principal"], "unix-socket");
  EXPECT_EQ(access[1]["route"], "/healthz");
  EXPECT_EQ(access[1]["status"], health);
  EXPECT_EQ(access[1]["principal"], "anonymous");
}

TEST(AgentLogs, AnUnknownLogFormatOrFlagExitsWith2) {
  EXPECT_EQ(AgentProcess::run_to_exit({"--log-format", "xml"}), 2);
  // A usage error exits 2 too, not CLI11's 105/109; --help 0.
  EXPECT_EQ(AgentProcess::run_to_exit({"--no-such-flag"}), 2);
  EXPECT_EQ(AgentProcess::run_to_exit({"--heartbeat-interval", "many"}), 2);
  EXPECT_EQ(AgentProcess::run_to_exit({"--help"}), 0);
}

// Root (whoever reaches the socket) sets the level at run time: a debug line appears after,
// not before. The TCP listener does not serve the route.
TEST_F(AgentLogsTest, TheLevelChangesAtRunTimeOnThePluginSocketOnly) {
  start_agent({});
  send_malformed();
  EXPECT_FALSE(logged("bad request from client"));
  auto level = agent_->request("GET", "/v1/system/log-level");
  ASSERT_EQ(level.status, 200) << level.body;
  EXPECT_EQ(level.json(), json({{"level", "info"}}));
  EXPECT_EQ(agent_->tcp_request("PUT", "/v1/system/log-level", R"({"level":"debug"})").status, 404);
  auto bad = agent_->request("PUT", "/v1/system/log-level", R"({"level":"loud"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_code(), "INVALID_LOG_LEVEL");
  EXPECT_EQ(agent_->request("GET", "/v1/system/log-level").json()["level"], "info");
  auto set = agent_->request("PUT", "/v1/system/log-level", R"({"level":"debug"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json(), json({{"level", "debug"}, {"previous", "info"}}));
  send_malformed();
  EXPECT_TRUE(logged("bad request from client"));
}

}  // namespace
}  // namespace wiretag::test
