// Test harness: runs wiretag-agent on 127.0.0.1 port 0 against a server, with its own pin
// dir and state dir, and a network namespace with veth pairs for it to manage. The Plugin API
// is reached on the agent's unix socket, health on TCP.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../server/server_process.h"

namespace wiretag::test {

// One HTTP/1.1 request over a unix socket; status 0 when there is no complete answer.
HttpResult unix_http_request(const std::filesystem::path& socket, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& authorization);

class AgentProcess {
 public:
  // Starts the agent (output to `log`, truncated) and waits for its "listening on" line.
  AgentProcess(std::vector<std::string> args, std::filesystem::path log);
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  bool started() const { return port_ != 0; }
  bool alive();
  unsigned short port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log_text() const;
  void kill_hard();
  int terminate();  // SIGTERM; exit status or -1

  // The Plugin API on the agent's unix socket (--plugin-socket, else <state-dir>/plugin.sock).
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "") const {
    return unix_http_request(plugin_socket_, method, target, body, "");
  }
  // The same request on the agent's TCP listener (--listen), with this Authorization header.
  HttpResult tcp_request(const std::string& method, const std::string& target,
                         const std::string& body = "",
                         const std::string& authorization = "") const {
    return http_request_authorized(port_, method, target, body, authorization);
  }
  const std::filesystem::path& plugin_socket() const { return plugin_socket_; }

  // Runs the binary to completion with these args; returns its exit status.
  static int run_to_exit(const std::vector<std::string>& args);

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::filesystem::path log_;
  std::filesystem::path plugin_socket_;
};

// A network namespace named uniquely for this test process, with host-side veths in it
// (peers in child namespaces are not needed: the agent only attaches to the host side).
class TestNetns {
 public:
  TestNetns();
  ~TestNetns();
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // Creates veth pair IFNAME <-> IFNAME-p inside the namespace; returns success.
  bool add_veth(const std::string& ifname);
  bool del_link(const std::string& ifname);

 private:
  std::string name_;
};

// Runs a shell command; returns its exit status.
int sh(const std::string& command);

// Polls cond every 20 ms for up to `limit` (a liveness bound, not a speed assertion).
template <class F>
bool eventually(F cond, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

}  // namespace wiretag::test
