// Test harness: runs wiretag-agent on 127.0.0.1 port 0 against a server, with its own pin
// dir and state dir, and a network namespace with veth pairs for it to manage.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../server/server_process.h"

namespace wiretag::test {

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

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "") const {
    return http_request(port_, method, target, body, "");
  }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::filesystem::path log_;
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

}  // namespace wiretag::test
