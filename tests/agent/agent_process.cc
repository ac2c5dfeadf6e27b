#include "agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace wiretag::test {

int sh(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

AgentProcess::AgentProcess(std::vector<std::string> args, std::filesystem::path log)
    : log_(std::move(log)) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    std::string bin = WIRETAG_AGENT_BIN;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 3000 && port_ == 0; ++i) {
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      constexpr std::string_view kPrefix = "listening on 127.0.0.1:";
      if (line.rfind(kPrefix, 0) == 0)
        port_ = static_cast<unsigned short>(std::stoi(line.substr(kPrefix.size())));
    }
    if (port_ || !alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
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

void AgentProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int AgentProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
  return -1;
}

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
