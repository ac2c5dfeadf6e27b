// A container for the agent tests: a network namespace of its own whose eth0 is the peer of
// `hostif` in the cell's namespace, on the cell's bridge (br0, made by the test), with an
// address from 198.18.0.0/15. Packets from it cross the stamp program of `hostif`. Its eth0
// sends no multicast (IGMP and MLD reports), so the packets a test counts are its own.
#pragma once

#include <string>

#include "agent_process.h"

namespace wiretag::test {

class Container {
 public:
  Container(const TestNetns& cell, const std::string& hostif, const std::string& ip4)
      : name_(cell.name() + "-" + hostif) {
    ok_ = sh("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up && ip -n " +
             cell.name() + " link add " + hostif + " type veth peer name eth0 netns " + name_ +
             " && ip -n " + cell.name() + " link set " + hostif + " master br0 up && ip -n " +
             name_ + " addr add " + ip4 + "/24 dev eth0 && ip -n " + name_ +
             " link set eth0 multicast off up") == 0;
  }
  ~Container() { sh("ip netns del " + name_ + " 2>/dev/null"); }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // Pings `ip4` `count` times; true when a reply came.
  bool ping(const std::string& ip4, int count) const {
    return sh("ip netns exec " + name_ + " ping -q -c " + std::to_string(count) + " -i 0.2 -W 1 " +
              ip4 + " >/dev/null 2>&1") == 0;
  }
  // Sends `count` UDP datagrams to ip4:port (no answer expected); true when they were sent.
  bool send_udp(const std::string& ip4, int port, int count) const {
    return sh("ip netns exec " + name_ + " python3 -c 'import socket\ns = socket.socket(" +
              "socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(" + std::to_string(count) +
              "): s.sendto(b\"x\", (\"" + ip4 + "\", " + std::to_string(port) + "))'") == 0;
  }

 private:
  std::string name_;
  bool ok_ = false;
};

}  // namespace wiretag::test
