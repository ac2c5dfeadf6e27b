#include "agent_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace wiretag::test {

int sh(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

AgentProcess::AgentProcess(std::vector<std::string> args, std::filesystem::path log)
    : log_(std::move(log)) {
  pid_ = spawn_logged(WIRETAG_AGENT_BIN, args, log_.string());
  port_ = wait_for_listening(pid_, log_.string(), 3000);
}

AgentProcess::~AgentProcess() { kill_hard(); }

bool AgentProcess::alive() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string AgentProcess::log_text() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void AgentProcess::kill_hard() { kill_child(pid_); }

int AgentProcess::terminate() { return terminate_child(pid_); }

TestNetns::TestNetns() {
  std::random_device rd;
  name_ = "wta" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
  sh("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up");
}

TestNetns::~TestNetns() { sh("ip netns del " + name_ + " 2>/dev/null"); }

bool TestNetns::add_veth(const std::string& ifname) {
  return sh("ip -n " + name_ + " link add " + ifname + " type veth peer name " + ifname +
            "p && ip -n " + name_ + " link set " + ifname + " up && ip -n " + name_ +
            " link set " + ifname + "p up") == 0;
}

bool TestNetns::del_link(const std::string& ifname) {
  return sh("ip -n " + name_ + " link del " + ifname) == 0;
}

}  // namespace wiretag::test
