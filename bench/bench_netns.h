// What the benches that build network namespaces share (peers_bench.cc, gate_bench.cc): the
// namespaces and bpffs pin dirs they made, removed on exit, on SIGINT/SIGTERM and on fail();
// running a step inside one; an AF_PACKET flood sender; a device's received packets. Apart
// from bench_common.h because it needs the datapath library (NetnsScope), which only these
// benches link.
#pragma once

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "datapath/netns.h"

namespace wiretag::bench {

// ---------------------------------------------------------------------------------------------
// Namespaces, pin dirs and scratch files: created with unique names, removed on exit, on
// SIGINT/SIGTERM, and on fail().

struct Scratch {
  std::mutex mu;
  std::vector<std::string> namespaces;
  std::vector<std::string> pin_dirs;  // wiretag's pins (maps, programs, TCX links) in bpffs
  std::vector<std::string> files;     // e.g. --profile's perf data
  std::atomic<bool> bpf_stats{false};  // a bench turned kernel.bpf_stats_enabled on
};

inline Scratch& scratch() {
  static Scratch s;
  return s;
}

inline void keep_namespace(const std::string& name) {
  std::lock_guard lock(scratch().mu);
  scratch().namespaces.push_back(name);
}

inline void keep_pin_dir(const std::string& dir) {
  std::lock_guard lock(scratch().mu);
  scratch().pin_dirs.push_back(dir);
}

inline void keep_file(const std::string& path) {
  std::lock_guard lock(scratch().mu);
  scratch().files.push_back(path);
}

inline void remove_namespaces() {
  std::lock_guard lock(scratch().mu);
  if (scratch().bpf_stats.exchange(false))
    std::ofstream("/proc/sys/kernel/bpf_stats_enabled") << "0";
  for (auto& ns : scratch().namespaces) sh("ip netns del " + ns + " 2>/dev/null");
  scratch().namespaces.clear();
  for (auto& dir : scratch().pin_dirs) sh("rm -rf " + dir);
  scratch().pin_dirs.clear();
  for (auto& file : scratch().files) std::remove(file.c_str());
  scratch().files.clear();
}

[[noreturn]] inline void fail(const std::string& what) {
  remove_namespaces();
  die(what);
}

inline void run(const std::string& cmd) {
  if (sh(cmd) != 0) fail("failed: " + cmd.substr(0, 300));
}

// Blocks SIGINT/SIGTERM in every thread; one thread waits for them and cleans up.
inline void install_cleanup(const char* program) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, program] {
    int sig = 0;
    sigwait(&set, &sig);
    std::fprintf(stderr, "%s: signal %d, removing namespaces\n", program, sig);
    remove_namespaces();
    _exit(128 + sig);
  }).detach();
  std::atexit(remove_namespaces);
}

inline std::string netns_path(const std::string& name) { return "/run/netns/" + name; }

// f() run by this thread inside the namespace `ns`.
template <typename F>
auto in_netns(const std::string& ns, F&& f) {
  auto scope = datapath::NetnsScope::enter(netns_path(ns));
  if (!scope) fail("enter netns " + ns + ": " + scope.error().message);
  return f();
}

// Packets the device `ifname` of namespace `ns` has received (netlink).
inline uint64_t rx_packets(const std::string& ns, const char* ifname) {
  return in_netns(ns, [&]() -> uint64_t {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) fail("getifaddrs");
    uint64_t n = 0;
    for (auto* i = list; i; i = i->ifa_next)
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET &&
          std::strcmp(i->ifa_name, ifname) == 0 && i->ifa_data)
        n = static_cast<const rtnl_link_stats*>(i->ifa_data)->rx_packets;
    ::freeifaddrs(list);
    return n;
  });
}

// ---------------------------------------------------------------------------------------------
// The flood: prebuilt Ethernet frames written with AF_PACKET, past the qdisc.

struct PacketSocket {
  int fd = -1;
  sockaddr_ll to{};
};

// An AF_PACKET socket on `ifname` of namespace `ns`, sending IPv4 frames to `dst_mac`.
inline PacketSocket packet_socket(const std::string& ns, const char* ifname,
                                  const uint8_t (&dst_mac)[6]) {
  return in_netns(ns, [&] {
    PacketSocket s;
    s.fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (s.fd < 0) fail(std::string("AF_PACKET socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(s.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    s.to.sll_family = AF_PACKET;
    s.to.sll_protocol = htons(ETH_P_IP);
    s.to.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
    if (s.to.sll_ifindex == 0) fail(std::string("no device ") + ifname + " in " + ns);
    s.to.sll_halen = 6;
    std::memcpy(s.to.sll_addr, dst_mac, 6);
    return s;
  });
}

// The calling thread as SCHED_FIFO on the last CPU. A flood sender's packets are received in
// its own softirq context (veth), so the whole path runs there: as a realtime thread on one
// CPU it measures that path, not the share of a CPU the machine's other work leaves it.
inline void realtime_on_last_cpu() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)) - 1, &cpus);
  ::sched_setaffinity(0, sizeof cpus, &cpus);
  sched_param sp{};
  sp.sched_priority = 10;
  ::sched_setscheduler(0, SCHED_FIFO, &sp);
}

// Sends `frames` round-robin, 64 per sendmmsg, until `stop`; adds what the kernel took to
// `sent` when given.
inline void flood(const PacketSocket& s, const std::vector<std::vector<uint8_t>>& frames,
                  const std::atomic<bool>& stop, bool realtime,
                  std::atomic<uint64_t>* sent = nullptr) {
  constexpr size_t kBatch = 64;
  if (realtime) realtime_on_last_cpu();
  std::vector<mmsghdr> msgs(std::max(frames.size(), kBatch));
  std::vector<iovec> iov(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    auto& f = frames[i % frames.size()];
    iov[i] = {const_cast<uint8_t*>(f.data()), f.size()};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = const_cast<sockaddr_ll*>(&s.to);
    msgs[i].msg_hdr.msg_namelen = sizeof s.to;
  }
  size_t next = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    size_t n = std::min(kBatch, msgs.size() - next);
    int got = ::sendmmsg(s.fd, &msgs[next], static_cast<unsigned>(n), 0);
    if (got > 0) {
      next = (next + static_cast<size_t>(got)) % msgs.size();
      if (sent) sent->fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    }
  }
}

}  // namespace wiretag::bench
