// Type=notify, the systemd units' start protocol, against the real binaries: a datagram
// socket the test binds is their NOTIFY_SOCKET. The server says READY=1 once it listens; the
// agent only once its first resync with the server is done (not while the server is stopped).
// Also the daemons' environment names (common/daemon_env.h) as the binaries read them.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "../agent/agent_process.h"
#include "../server/temp_dir.h"

namespace wiretag::test {
namespace {

// The systemd side: a unix datagram socket; each receive() is one notification.
class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifySocket() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  bool bound() const { return bound_; }
  const std::filesystem::path& path() const { return path_; }
  // The next notification, or "" when none comes within `wait_ms`.
  std::string receive(int wait_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) != 1) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // Notifications until one contains `what` (returned), or "" after `wait_ms` without one.
  std::string receive_until(const std::string& what, int wait_ms = 30000) {
    for (std::string m = receive(wait_ms); !m.empty(); m = receive(wait_ms)) {
      seen_.push_back(m);
      if (m.find(what) != std::string::npos) return m;
    }
    return "";
  }
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> seen_;
};

// NOTIFY_SOCKET for the children started while it lives (they inherit the environment).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Notify, ServerSaysReadyWhenItListensAndStoppingOnSigterm) {
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  ScopedEnv env("NOTIFY_SOCKET", notify.path().string());
  ServerProcess server(dir.path() / "data");
  ASSERT_TRUE(server.started());
  std::string ready = notify.receive_until("READY=1");
  ASSERT_FALSE(ready.empty()) << "no READY=1 from the server";
  EXPECT_NE(ready.find("STATUS=listening on 127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << ready;
  EXPECT_EQ(server.get("/healthz").status, 200);
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_FALSE(notify.receive_until("STOPPING=1").empty());
}

class AgentNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-notify-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started());
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"notify-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
  }
  void TearDown() override {
    if (stopped_server_) ::kill(server_->pid(), SIGCONT);
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }
  std::vector<std::string> agent_args() const {
    return {"--server",     "http://127.0.0.1:" + std::to_string(server_->port()),
            "--cell",       "notify-cell",
            "--listen",     "127.0.0.1:0",
            "--pin-dir",    pin_dir_,
            "--state-dir",  (dir_.path() / "agent").string(),
            "--token-file", (dir_.path() / "cell-token").string()};
  }

  TempDir dir_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  bool stopped_server_ = false;
};

TEST_F(AgentNotifyTest, ReadyOnlyAfterTheFirstResync) {
  NotifySocket notify(dir_.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  // The server frozen: the agent starts, enforces what is pinned, and cannot resync.
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  stopped_server_ = true;
  {
    ScopedEnv env("NOTIFY_SOCKET", notify.path().string());
    agent_ = std::make_unique<AgentProcess>(agent_args(), dir_.path() / "agent.log");
  }
  ASSERT_TRUE(agent_->started()) << agent_->log_text();
  std::string waiting = notify.receive_until("STATUS=waiting for the first resync");
  ASSERT_FALSE(waiting.empty()) << agent_->log_text();
  EXPECT_EQ(waiting.find("READY=1"), std::string::npos);
  // While the server cannot answer no READY comes (the agent answers /healthz meanwhile).
  EXPECT_EQ(agent_->tcp_request("GET", "/healthz").status, 503);  // answers: not synced yet
  EXPECT_EQ(notify.receive(1500), "") << "READY before any resync was possible";
  // The server back: the first resync, then READY=1.
  ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
  stopped_server_ = false;
  std::string ready = notify.receive_until("READY=1");
  ASSERT_FALSE(ready.empty()) << agent_->log_text();
  EXPECT_NE(ready.find("STATUS=first resync done"), std::string::npos) << ready;
  EXPECT_EQ(agent_->terminate(), 0);
  EXPECT_FALSE(notify.receive_until("STOPPING=1").empty());
}

TEST_F(AgentNotifyTest, NoNotifySocketNoNotification) {
  // Without NOTIFY_SOCKET the agent runs as before (the tests' harness never sets it).
  agent_ = std::make_unique<AgentProcess>(agent_args(), dir_.path() / "agent.log");
  ASSERT_TRUE(agent_->started()) << agent_->log_text();
  EXPECT_EQ(agent_->log_text().find("systemd notification"), std::string::npos);
}

// One environment for both daemons: each reads its own prefix.
TEST_F(AgentNotifyTest, ServerAndAgentReadTheirOwnNamesFromOneEnvironment) {
  TempDir dir;
  ScopedEnv server_listen("WIRETAG_SERVER_LISTEN", "127.0.0.1:0");
  ScopedEnv agent_listen("WIRETAG_AGENT_LISTEN", "127.0.0.1:0");
  ScopedEnv server_data("WIRETAG_SERVER_DATA_DIR", (dir.path() / "data").string());
  ScopedEnv server_level("WIRETAG_SERVER_LOG_LEVEL", "warn");
  ScopedEnv agent_level("WIRETAG_AGENT_LOG_LEVEL", "warn");
  std::string log = (dir.path() / "server.log").string();
  pid_t pid = spawn_logged(WIRETAG_SERVER_BIN, {}, log);
  unsigned short port = wait_for_listening(pid, log, 3000);
  ASSERT_NE(port, 0) << file_text(log);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "admin-token"));
  EXPECT_EQ(file_text(log).find(" info "), std::string::npos) << "WIRETAG_SERVER_LOG_LEVEL";
  kill_child(pid);
  // The agent: its own listen address, and warn level (no info line about its start).
  agent_ = std::make_unique<AgentProcess>(
      std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(server_->port()),
                               "--cell", "notify-cell", "--pin-dir", pin_dir_, "--state-dir",
                               (dir_.path() / "agent").string(), "--token-file",
                               (dir_.path() / "cell-token").string()},
      dir_.path() / "agent.log");
  ASSERT_TRUE(agent_->started()) << agent_->log_text();
  EXPECT_NE(agent_->port(), 4100);  // the default, had WIRETAG_AGENT_LISTEN not been read
  EXPECT_EQ(agent_->log_text().find(" info "), std::string::npos) << agent_->log_text();
}

// WIRETAG_AGENT_SERVER takes several URLs as --server does (comma-separated): the agent
// fails over from the first, which refuses, and is READY once it has resynced with the next.
TEST_F(AgentNotifyTest, SeveralServersFromTheEnvironmentReadyAfterFailingOver) {
  NotifySocket notify(dir_.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  const std::string servers =
      "http://127.0.0.1:1,http://127.0.0.1:" + std::to_string(server_->port());
  std::vector<std::string> args = agent_args();
  args.erase(args.begin(), args.begin() + 2);  // no --server: the environment names them
  {
    ScopedEnv env("NOTIFY_SOCKET", notify.path().string());
    ScopedEnv from_env("WIRETAG_AGENT_SERVER", servers);
    agent_ = std::make_unique<AgentProcess>(args, dir_.path() / "agent.log");
  }
  ASSERT_TRUE(agent_->started()) << agent_->log_text();
  std::string ready = notify.receive_until("READY=1");
  ASSERT_FALSE(ready.empty()) << agent_->log_text();
  EXPECT_NE(ready.find("STATUS=first resync done; following " + servers), std::string::npos)
      << ready;
}

TEST(DaemonEnvNames, OldNamesStillReadForOneReleaseWithAWarning) {
  TempDir dir;
  ScopedEnv data("WIRETAG_DATA_DIR", (dir.path() / "data").string());
  std::string log = (dir.path() / "server.log").string();
  pid_t pid = spawn_logged(WIRETAG_SERVER_BIN, {"--listen", "127.0.0.1:0"}, log);
  ASSERT_NE(wait_for_listening(pid, log, 3000), 0) << file_text(log);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "admin-token"));
  EXPECT_NE(file_text(log).find("WIRETAG_DATA_DIR is deprecated"), std::string::npos)
      << file_text(log);
  kill_child(pid);
}

TEST(DaemonEnvNames, SharedListenNameIsRefused) {
  TempDir dir;
  ScopedEnv listen("WIRETAG_LISTEN", "127.0.0.1:0");
  std::string log = (dir.path() / "server.log").string();
  pid_t pid = spawn_logged(WIRETAG_SERVER_BIN, {"--data-dir", (dir.path() / "d").string()}, log);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(file_text(log).find("set WIRETAG_SERVER_LISTEN"), std::string::npos) << file_text(log);
  EXPECT_EQ(AgentProcess::run_to_exit({"--server", "http://127.0.0.1:1"}), 2);
}

}  // namespace
}  // namespace wiretag::test
