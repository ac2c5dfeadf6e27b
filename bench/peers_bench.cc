// wiretag-bench-peers: wiretag beside the filters an operator would otherwise pick, on real
// traffic through a forwarding namespace (issue 18). Needs root. A benchmark, not a test.
//
// Every configuration gets a topology of its own, built once and kept for the whole run, so
// rounds can interleave the configurations without reinstalling 1M rules between them:
//
//   sender ns (eth0 198.18.1.2) ─veth─ hs [forwarding ns, ip_forward] hr ─veth─ (eth0 198.18.2.2)
//   receiver ns
//
// hs is the sender's host veth (stamped: TC ingress), hr the receiver's (enforced: TC egress).
// The filter under test sits in the forwarding namespace. Loads:
//   - one flow: 18-byte UDP datagrams injected with AF_PACKET on the sender's eth0, one
//     (source port, destination port); the rate is what reaches the receiver's eth0;
//   - 4,096 flows: the same, the source port cycling over 4,096 values;
//   - churn: new TCP connections per second from the sender to a listener in the receiver
//     (connect, then close with an RST; the listener accepts and closes).
// In each round every load measures "no filter" first and last and each configuration in
// between (order rotated per round); a ratio is a configuration's rate over the mean of that
// round's two "no filter" rates. The table gives medians over rounds and their spread; the
// targets are judged on paired ratios (wiretag over its peer in the same round), whose median
// comes with a 95% interval. --profile says where each BPF program's time goes
// (program_profile.h).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_baseline_bpf.skel.h"
#include "bench_probe_bpf.skel.h"
#include "bench_common.h"
#include "bench_netns.h"
#include "program_profile.h"
#include "core/policy_compiler.h"
#include "datapath/datapath.h"
#include "datapath/netns.h"
#include "datapath/packet_builder.h"
#include "datapath/tc_attach.h"

namespace {

using wiretag::Protocol;
using wiretag::Rule;
using wiretag::bench::die;
using wiretag::bench::fail;
using wiretag::bench::in_netns;
using wiretag::bench::keep_namespace;
using wiretag::bench::keep_pin_dir;
using wiretag::bench::median;
using wiretag::bench::netns_path;
using wiretag::bench::packet_socket;
using wiretag::bench::PacketSocket;
using wiretag::bench::remove_namespaces;
using wiretag::bench::run;
using wiretag::bench::rx_packets;
using wiretag::datapath::Datapath;
using wiretag::datapath::NetnsScope;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kFloodPort = 5000;  // udp: the flood's destination port
constexpr uint16_t kChurnPort = 5001;  // tcp: the churn listener
constexpr uint16_t kFirstSourcePort = 40000;
constexpr uint32_t kSenderTag = 1;
constexpr uint32_t kReceiverTag = 0xfff0;
constexpr const char* kSenderAddr = "198.18.1.2";
constexpr const char* kReceiverAddr = "198.18.2.2";
constexpr uint8_t kHsMac[6] = {0x02, 0, 0, 0, 1, 1};   // forwarding ns, sender side
constexpr uint8_t kSndMac[6] = {0x02, 0, 0, 0, 1, 2};  // sender's eth0

// ---------------------------------------------------------------------------------------------
// One topology per configuration.

struct Topology {
  std::string config;
  std::string snd, fwd, rcv;  // namespace names
  PacketSocket packet;        // AF_PACKET on the sender's eth0
  int sink_fd = -1;           // udp, bound in the receiver, never read
  int listen_fd = -1;         // tcp, the churn listener in the receiver
};

Topology make_topology(const std::string& config, int index) {
  Topology t;
  t.config = config;
  std::string base = "wtpb" + std::to_string(::getpid()) + "c" + std::to_string(index);
  t.snd = base + "s";
  t.fwd = base + "f";
  t.rcv = base + "r";
  for (auto* ns : {&t.snd, &t.fwd, &t.rcv}) keep_namespace(*ns);
  const std::string S = t.snd, F = t.fwd, R = t.rcv;
  run("ip netns add " + S + " && ip netns add " + F + " && ip netns add " + R);
  run("ip -n " + F +
      " link add hs address 02:00:00:00:01:01 type veth peer name eth0 address "
      "02:00:00:00:01:02 netns " +
      S + " && ip -n " + F +
      " link add hr address 02:00:00:00:02:01 type veth peer name eth0 address "
      "02:00:00:00:02:02 netns " +
      R + " && ip -n " + F + " addr add 198.18.1.1/24 dev hs && ip -n " + F +
      " addr add 198.18.2.1/24 dev hr && ip -n " + F + " link set hs up && ip -n " + F +
      " link set hr up && ip -n " + F + " link set lo up && ip netns exec " + F +
      " sysctl -qw net.ipv4.ip_forward=1 && ip -n " + F +
      " neigh add 198.18.2.2 lladdr 02:00:00:00:02:02 dev hr nud permanent && ip -n " + F +
      " neigh add 198.18.1.2 lladdr 02:00:00:00:01:02 dev hs nud permanent && ip -n " + S +
      " addr add 198.18.1.2/24 dev eth0 && ip -n " + S + " link set eth0 up && ip -n " + S +
      " link set lo up && ip -n " + S + " route add default via 198.18.1.1 && ip -n " + S +
      " neigh add 198.18.1.1 lladdr 02:00:00:00:01:01 dev eth0 nud permanent && ip -n " + R +
      " addr add 198.18.2.2/24 dev eth0 && ip -n " + R + " link set eth0 up && ip -n " + R +
      " link set lo up && ip -n " + R + " route add default via 198.18.2.1 && ip -n " + R +
      " neigh add 198.18.2.1 lladdr 02:00:00:00:02:01 dev eth0 nud permanent");

  t.packet = packet_socket(S, "eth0", kHsMac);
  in_netns(R, [&] {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, kReceiverAddr, &a.sin_addr);
    t.sink_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    ::setsockopt(t.sink_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    a.sin_port = htons(kFloodPort);
    if (::bind(t.sink_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      fail(std::string("bind udp sink: ") + std::strerror(errno));
    t.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    ::setsockopt(t.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_port = htons(kChurnPort);
    if (::bind(t.listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(t.listen_fd, 4096) != 0)
      fail(std::string("tcp listener: ") + std::strerror(errno));
    return 0;
  });
  return t;
}

// Packets the receiver's eth0 has received (netlink, in the receiver's namespace).
uint64_t received(const Topology& t) { return rx_packets(t.rcv, "eth0"); }

// ---------------------------------------------------------------------------------------------
// The filters.

// k-th filler rule: a source other than the sender, tcp, on a port nothing sends to. The same
// N entries for every filter: wiretag's tag 2 + k mod 65000 is nftables'/iptables' address
// 198.19.0.0 + k mod 65000.
uint32_t filler_index(size_t k) { return static_cast<uint32_t>(k % 65000); }
uint16_t filler_port(size_t k) { return static_cast<uint16_t>(20000 + k / 65000); }
std::string filler_addr(size_t k) {
  uint32_t a = filler_index(k);
  return "198.19." + std::to_string(a >> 8) + "." + std::to_string(a & 255);
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/wiretag-bench-peers-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) fail("mkstemp");
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

// conntrack: the rule an operator adds so that replies to the receiver's own connections pass,
// what wiretag's allow_reply gives; every forwarded packet then goes through conntrack.
void install_nftables(const Topology& t, size_t n, bool conntrack) {
  std::string s;
  s.reserve(n * 32 + 1024);
  s += "table ip wtpb {\n  set allow { type ipv4_addr . inet_proto . inet_service; size " +
       std::to_string(n + 16) +
       "; }\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n" +
       std::string(conntrack ? "    ct state established,related accept\n" : "") +
       "    oifname \"hr\" ip saddr . meta l4proto . th dport @allow accept\n"
       "    oifname \"hr\" drop\n  }\n}\n";
  std::vector<std::string> els = {
      std::string(kSenderAddr) + " . udp . " + std::to_string(kFloodPort),
      std::string(kSenderAddr) + " . tcp . " + std::to_string(kChurnPort)};
  for (size_t k = 0; k + 2 < n; ++k)
    els.push_back(filler_addr(k) + " . tcp . " + std::to_string(filler_port(k)));
  for (size_t i = 0; i < els.size(); i += 50000) {
    s += "add element ip wtpb allow {";
    for (size_t j = i; j < std::min(els.size(), i + 50000); ++j) s += (j > i ? ", " : " ") + els[j];
    s += " }\n";
  }
  std::string file = write_temp(s);
  run("ip netns exec " + t.fwd + " nft -f " + file);
  ::unlink(file.c_str());
}

void install_iptables(const Topology& t, size_t n) {
  std::string s = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  for (size_t k = 0; k + 2 < n; ++k)
    s += "-A FORWARD -o hr -s " + filler_addr(k) + "/32 -p tcp --dport " +
         std::to_string(filler_port(k)) + " -j ACCEPT\n";
  s += "-A FORWARD -o hr -s " + std::string(kSenderAddr) + "/32 -p udp --dport " +
       std::to_string(kFloodPort) + " -j ACCEPT\n";
  s += "-A FORWARD -o hr -s " + std::string(kSenderAddr) + "/32 -p tcp --dport " +
       std::to_string(kChurnPort) + " -j ACCEPT\n";
  s += "-A FORWARD -o hr -j DROP\nCOMMIT\n";
  std::string file = write_temp(s);
  run("ip netns exec " + t.fwd + " iptables-restore < " + file);
  ::unlink(file.c_str());
}

// The same N rules through the library: the sender's tag on the flood's and the churn's
// ports, and N - 2 fillers.
// --max-endpoints: the datapath's capacity, which also sizes the shared flow cache.
uint32_t g_max_endpoints = 1024;

std::unique_ptr<Datapath> install_wiretag(const Topology& t, size_t n, bool clsact) {
  wiretag::datapath::Options o;
  // Pinned, as the agent runs it: TCX links are used only with a pin dir to keep them.
  o.pin_dir = "/sys/fs/bpf/" + t.fwd;
  keep_pin_dir(o.pin_dir);
  if (clsact) o.hook = wiretag::datapath::Options::Hook::Clsact;
  o.max_endpoints = g_max_endpoints;
  auto dp = Datapath::open(o);
  if (!dp) fail("Datapath::open: " + dp.error().message);
  wiretag::datapath::EndpointSettings sender, receiver;
  sender.tag = kSenderTag;
  receiver.tag = kReceiverTag;
  auto hs = (*dp)->attach({netns_path(t.fwd), "hs"}, sender);
  auto hr = (*dp)->attach({netns_path(t.fwd), "hr"}, receiver);
  if (!hs || !hr) fail("attach: " + (!hs ? hs.error().message : hr.error().message));
  std::vector<Rule> rules = {
      {kSenderTag, Protocol::Udp, wiretag::PortRange{kFloodPort, kFloodPort}},
      {kSenderTag, Protocol::Tcp, wiretag::PortRange{kChurnPort, kChurnPort}}};
  for (size_t k = 0; k + 2 < n; ++k)
    rules.push_back(
        {2 + filler_index(k), Protocol::Tcp, wiretag::PortRange{filler_port(k), filler_port(k)}});
  if (auto r = (*dp)->replace_policy(*hr, rules); !r) fail("replace_policy: " + r.error().message);
  (*dp)->settle();
  return std::move(*dp);
}

// Empty programs on the same four hooks wiretag uses (ingress and egress of hs and hr), as
// clsact filters or TCX links (tc_attach.h). The links stay open until the process exits.
void install_empty(const Topology& t, bpf_program* prog, wiretag::datapath::TcHook hook) {
  int fd = bpf_program__fd(prog);
  in_netns(t.fwd, [&] {
    for (const char* dev : {"hs", "hr"}) {
      uint32_t ifindex = if_nametoindex(dev);
      if (hook == wiretag::datapath::TcHook::Tcx) {
        auto r = wiretag::datapath::attach_tcx(ifindex, fd, fd);
        if (!r) fail("attach empty programs: " + r.error().message);
      } else if (auto r = wiretag::datapath::attach_clsact(ifindex, fd, fd); !r) {
        fail("attach empty programs: " + r.error().message);
      }
    }
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// The loads.

// 60-byte frames: Ethernet, IPv4, UDP (checksum 0), 18 bytes of payload.
std::vector<std::vector<uint8_t>> flood_frames(size_t flows) {
  std::vector<std::vector<uint8_t>> frames;
  for (size_t i = 0; i < flows; ++i) {
    auto f = wiretag::datapath::PacketBuilder::ipv4(kSenderAddr, kReceiverAddr)
                 .udp(static_cast<uint16_t>(kFirstSourcePort + i), kFloodPort)
                 .payload(18)
                 .build();
    std::memcpy(f.data(), kHsMac, 6);
    std::memcpy(f.data() + 6, kSndMac, 6);
    f[14 + 20 + 6] = f[14 + 20 + 7] = 0;  // no UDP checksum
    frames.push_back(std::move(f));
  }
  return frames;
}

bool g_realtime = true;  // --no-realtime: the flood sender at normal priority

struct Sample {
  double rate = 0;  // packets or connections per second
  uint64_t failures = 0;
};

Sample measure_flood(const Topology& t, const std::vector<std::vector<uint8_t>>& frames,
                     double seconds) {
  std::atomic<bool> stop{false};
  std::thread sender([&] { wiretag::bench::flood(t.packet, frames, stop, g_realtime); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warm-up
  uint64_t r0 = received(t);
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  uint64_t r1 = received(t);
  double dt = wiretag::bench::seconds_since(t0);
  stop = true;
  sender.join();
  return {static_cast<double>(static_cast<uint32_t>(r1 - r0)) / dt, 0};
}

Sample measure_churn(const Topology& t, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> connected{0}, failed{0};
  std::thread server([&] {
    pollfd p{t.listen_fd, POLLIN, 0};
    while (!stop.load()) {
      if (::poll(&p, 1, 50) <= 0) continue;
      for (int c; (c = ::accept4(t.listen_fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(c);
    }
  });
  std::thread client([&] {
    auto scope = NetnsScope::enter(netns_path(t.snd));
    if (!scope) fail("enter sender netns");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kChurnPort);
    ::inet_pton(AF_INET, kReceiverAddr, &a.sin_addr);
    linger reset{1, 0};
    while (!stop.load(std::memory_order_relaxed)) {
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval tv{1, 0};
      ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
        connected.fetch_add(1, std::memory_order_relaxed);
      else
        failed.fetch_add(1, std::memory_order_relaxed);
      ::setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);  // RST: no TIME_WAIT
      ::close(s);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  uint64_t c0 = connected.load(), f0 = failed.load();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  uint64_t c1 = connected.load(), f1 = failed.load();
  double dt = wiretag::bench::seconds_since(t0);
  stop = true;
  client.join();
  server.join();
  return {static_cast<double>(c1 - c0) / dt, f1 - f0};
}

// ---------------------------------------------------------------------------------------------

std::string size_name(size_t n) {
  if (n >= 1000000 && n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

// ---------------------------------------------------------------------------------------------
// In-situ cost per program run (--prog-stats): the kernel's own accounting
// (kernel.bpf_stats_enabled: run_time_ns, run_cnt of every program), read around each flood.
// Only one configuration carries traffic at a time, so the programs that ran in a window are
// that configuration's. The accounting reads the clock twice per run: the empty program's
// figure is mostly that, and the rates of such a run are lower than without it.

struct ProgRuns {
  std::string name;
  uint64_t ns = 0, runs = 0;
};

std::map<uint32_t, ProgRuns> prog_runs() {
  std::map<uint32_t, ProgRuns> out;
  wiretag::bench::for_each_packet_program([&](uint32_t id, int, const bpf_prog_info& info) {
    out[id] = {info.name, info.run_time_ns, info.run_cnt};
  });
  return out;
}

// name -> {ns, runs} of the programs that ran between two snapshots.
void add_prog_runs(const std::map<uint32_t, ProgRuns>& before,
                   const std::map<uint32_t, ProgRuns>& after,
                   std::map<std::string, std::pair<uint64_t, uint64_t>>& into) {
  for (auto& [id, a] : after) {
    auto b = before.find(id);
    if (b == before.end() || a.runs <= b->second.runs) continue;
    into[a.name].first += a.ns - b->second.ns;
    into[a.name].second += a.runs - b->second.runs;
  }
}

// Off again at exit and on SIGINT/SIGTERM (remove_namespaces, bench_netns.h).
void set_bpf_stats(bool on) {
  wiretag::bench::scratch().bpf_stats = on;
  std::ofstream("/proc/sys/kernel/bpf_stats_enabled") << (on ? "1" : "0");
}

struct ConfigSpec {
  std::string name;  // "none", "empty-tc", "wiretag-10k", "nft-set-1M", "iptables-1k"
  std::string kind;
  size_t rules = 0;
};

const char* kLoads[] = {"one flow", "4,096 flows", "churn"};

// bench/probe.bpf.c: configuration "probe-NAME" runs wt_probe_NAME on the four hooks.
const char* kProbes[] = {"independent", "kmalloc", "dependent", "line", "mark", "code"};

bpf_program* probe_program(bench_probe_bpf* skel, const std::string& config) {
  std::string name = "wt_" + config;
  std::replace(name.begin(), name.end(), '-', '_');
  bpf_program* prog = bpf_object__find_program_by_name(skel->obj, name.c_str());
  if (!prog) die("no probe program for " + config);
  return prog;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  double seconds = 2.0;
  bool quick = false;
  std::vector<size_t> sizes = {10, 10000, 1000000};
  std::vector<size_t> ipt_sizes = {10, 1000, 10000};
  std::string only;
  std::vector<int> loads = {0, 1, 2};
  CLI::App app{
      "wiretag beside nftables and iptables on real traffic through a forwarding namespace"};
  app.add_option("--rounds", rounds, "interleaved rounds (medians over them)");
  app.add_option("--seconds", seconds, "measured seconds per configuration and load");
  app.add_flag("--quick", quick,
               "2 rounds of 0.5 s (setup of the 1M-element nft set still takes minutes)");
  app.add_option("--sizes", sizes, "rule counts for wiretag and the nftables set")->delimiter(',');
  app.add_option("--iptables-sizes", ipt_sizes, "rule counts for iptables")->delimiter(',');
  app.add_option("--only", only, "comma-separated configuration names to run beside none");
  bool no_realtime = false;
  app.add_flag("--no-realtime", no_realtime,
               "flood sender at normal priority (default: SCHED_FIFO on the last CPU)");
  app.add_option("--loads", loads, "loads to run: 0 one flow, 1 4,096 flows, 2 churn")
      ->delimiter(',');
  app.add_option("--max-endpoints", g_max_endpoints,
                 "wiretag's endpoint capacity, which sizes its flow cache (default: the agent's)")
      ->check(CLI::Range(2, 65536));
  bool prog_stats = false;
  app.add_flag("--prog-stats", prog_stats,
               "also print each program's in-situ ns per run (kernel.bpf_stats_enabled on for "
               "the run: its clock reads lower every rate, so take ratios from a run without it)");
  bool profile = false;
  int profile_hz = 10000;
  app.add_flag("--profile", profile,
               "also print where each BPF program's time goes, by source line: perf's cpu-clock "
               "samples during each flood (needs perf: scripts/install-deps.sh installs "
               "linux-perf; the sampling lowers every rate, so take ratios from a run without it)");
  app.add_option("--profile-hz", profile_hz, "samples per second and CPU for --profile")
      ->check(CLI::Range(100, 50000));
  CLI11_PARSE(app, argc, argv);
  g_realtime = !no_realtime;
  if (quick) {
    rounds = 2;
    seconds = 0.5;
  }
  if (::geteuid() != 0) die("needs root (namespaces, BPF, nftables)");
  libbpf_set_print(nullptr);
  wiretag::bench::install_cleanup("wiretag-bench-peers");

  std::vector<ConfigSpec> specs = {{"none", "none"}, {"empty-tc", "empty"}};
  if (wiretag::datapath::tcx_supported()) specs.push_back({"empty-tcx", "empty-tcx"});
  for (size_t n : sizes) specs.push_back({"wiretag-" + size_name(n), "wiretag", n});
  // The same programs on clsact filters: what TCX attachment changes.
  if (wiretag::datapath::tcx_supported() && !sizes.empty())
    specs.push_back({"wiretag-" + size_name(sizes[0]) + "-clsact", "wiretag-clsact", sizes[0]});
  for (size_t n : sizes) specs.push_back({"nft-set-" + size_name(n), "nft", n});
  // The same set behind conntrack's established rule: nftables with wiretag's reply semantics.
  if (!sizes.empty())
    specs.push_back({"nft-set-" + size_name(sizes[0]) + "-ct", "nft-ct", sizes[0]});
  for (size_t n : ipt_sizes) specs.push_back({"iptables-" + size_name(n), "iptables", n});
  // The probes run only when named (--only probe-dependent,...), on wiretag's own hook.
  for (const char* p : kProbes)
    if (("," + only + ",").find(std::string(",probe-") + p + ",") != std::string::npos)
      specs.push_back({std::string("probe-") + p, "probe"});
  if (!only.empty())
    std::erase_if(specs, [&](const ConfigSpec& c) {
      return c.kind != "none" && ("," + only + ",").find("," + c.name + ",") == std::string::npos;
    });

  std::string ipt_version = "?";
  if (FILE* p = ::popen("iptables -V 2>/dev/null", "r")) {
    char buf[128] = {};
    if (std::fgets(buf, sizeof buf, p)) ipt_version = std::string(buf, std::strcspn(buf, "\n"));
    ::pclose(p);
  }
  std::printf("wiretag-bench-peers: %s\n", wiretag::bench::machine_line().c_str());
  std::printf("%d rounds, %.1f s per configuration and load; flood sender %s; %s; TCX %s\n", rounds,
              seconds, g_realtime ? "SCHED_FIFO on the last CPU" : "at normal priority",
              ipt_version.c_str(),
              wiretag::datapath::tcx_supported() ? "available" : "not available");

  auto* empty_skel = bench_baseline_bpf::open_and_load();
  if (!empty_skel) die("load the empty TC program");
  auto* probe_skel = bench_probe_bpf::open_and_load();
  if (!probe_skel) die("load the probe programs");
  const auto hook = wiretag::datapath::tcx_supported() ? wiretag::datapath::TcHook::Tcx
                                                       : wiretag::datapath::TcHook::Clsact;

  std::vector<Topology> topologies;
  std::vector<std::unique_ptr<Datapath>> datapaths;
  for (size_t i = 0; i < specs.size(); ++i) {
    auto t0 = Clock::now();
    Topology t = make_topology(specs[i].name, static_cast<int>(i));
    if (specs[i].kind == "empty")
      install_empty(t, empty_skel->progs.wt_empty_prog, wiretag::datapath::TcHook::Clsact);
    if (specs[i].kind == "empty-tcx")
      install_empty(t, empty_skel->progs.wt_empty_prog, wiretag::datapath::TcHook::Tcx);
    if (specs[i].kind == "probe") install_empty(t, probe_program(probe_skel, specs[i].name), hook);
    if (specs[i].kind == "wiretag") datapaths.push_back(install_wiretag(t, specs[i].rules, false));
    if (specs[i].kind == "wiretag-clsact")
      datapaths.push_back(install_wiretag(t, specs[i].rules, true));
    if (specs[i].kind == "nft") install_nftables(t, specs[i].rules, false);
    if (specs[i].kind == "nft-ct") install_nftables(t, specs[i].rules, true);
    if (specs[i].kind == "iptables") install_iptables(t, specs[i].rules);
    std::printf("  set up %-17s in %5.1f s%s\n", specs[i].name.c_str(),
                wiretag::bench::seconds_since(t0),
                specs[i].kind == "wiretag"
                    ? (std::string(" (") +
                       wiretag::datapath::tc_hook_name(datapaths.back()->tc_hook()) + ")")
                          .c_str()
                    : "");
    std::fflush(stdout);
    topologies.push_back(std::move(t));
  }

  auto one = flood_frames(1);
  auto many = flood_frames(4096);
  // ratio[load][config] over rounds; rate likewise.
  std::map<std::string, std::vector<double>> ratio[3], rate[3];
  uint64_t churn_failures = 0;
  // load -> config -> program name -> {ns, runs} (--prog-stats)
  std::map<std::string, std::map<std::string, std::pair<uint64_t, uint64_t>>> runs[3];
  if (prog_stats) set_bpf_stats(true);
  // load -> config -> program name -> samples (--profile); and the packets they were taken over
  std::map<std::string, std::map<std::string, wiretag::bench::ProgramProfile>> profiles[2];
  std::map<std::string, double> profiled_packets[2];
  std::map<std::string, uint64_t> path_samples[2];
  // With the sender on the last CPU, that CPU runs the whole path (realtime_on_last_cpu()).
  const int path_cpu = g_realtime ? static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)) - 1 : -1;
  const std::string perf_file = "/tmp/wiretag-bench-peers-" + std::to_string(::getpid()) + ".perf";
  if (profile) wiretag::bench::keep_file(perf_file);  // a signal mid-flood removes it too
  wiretag::bench::KernelSymbols kernel_symbols;  // loaded at the first profile, modules in
  const std::string kNetfilter = "netfilter (kernel functions)";
  auto measure = [&](int load, const Topology& t) {
    std::map<uint32_t, ProgRuns> before;
    if (prog_stats) before = prog_runs();
    if (load == 2) {
      auto s = measure_churn(t, seconds);
      churn_failures += s.failures;
      if (prog_stats) add_prog_runs(before, prog_runs(), runs[load][t.config]);
      return s.rate;
    }
    // Every configuration with a filter: BPF programs by source line, netfilter by function.
    const bool sampled = profile && t.config != "none";
    wiretag::bench::PerfRecord perf(perf_file, profile_hz);
    if (sampled && !perf.start()) die("--profile: perf record did not start");
    double got = measure_flood(t, load == 0 ? one : many, seconds).rate;
    if (prog_stats) add_prog_runs(before, prog_runs(), runs[load][t.config]);
    if (sampled) {
      perf.stop();
      if (kernel_symbols.empty()) kernel_symbols = wiretag::bench::KernelSymbols::load();
      const auto samples = perf.samples();
      const auto programs = wiretag::bench::loaded_programs();
      wiretag::bench::attribute(samples, programs, path_cpu, profiles[load][t.config],
                                &path_samples[load][t.config]);
      wiretag::bench::attribute_kernel(samples, programs, kernel_symbols, path_cpu,
                                       wiretag::bench::is_netfilter_symbol,
                                       profiles[load][t.config][kNetfilter]);
      profiled_packets[load][t.config] += got * seconds;
      std::remove(perf_file.c_str());
    }
    return got;
  };
  for (int r = 0; r < rounds; ++r) {
    for (int load : loads) {
      double none_first = measure(load, topologies[0]);
      std::vector<std::pair<std::string, double>> got;
      size_t n = topologies.size() - 1;
      for (size_t j = 0; j < n; ++j) {
        const Topology& t = topologies[1 + (j + static_cast<size_t>(r)) % n];
        got.emplace_back(t.config, measure(load, t));
      }
      double none_last = measure(load, topologies[0]);
      double base = (none_first + none_last) / 2;
      rate[load]["none"].push_back(base);
      ratio[load]["none"].push_back(1.0);
      for (auto& [name, v] : got) {
        rate[load][name].push_back(v);
        ratio[load][name].push_back(base > 0 ? v / base : 0);
      }
      std::printf("  round %d/%d, %-11s: none %.0f/s (first %.0f, last %.0f)\n", r + 1, rounds,
                  kLoads[load], base, none_first, none_last);
      std::fflush(stdout);
    }
  }

  auto cell = [&](int load, const std::string& name) {
    auto& v = ratio[load][name];
    if (v.empty()) return std::string("—");
    char out[96];
    std::snprintf(out, sizeof out, "%5.1f%% (%.1f–%.1f) %8.0f/s", 100 * median(v),
                  100 * *std::min_element(v.begin(), v.end()),
                  100 * *std::max_element(v.begin(), v.end()), median(rate[load][name]));
    return std::string(out);
  };
  std::printf(
      "\nratio to no filter in the same round: median (min–max over %d rounds), median rate\n",
      rounds);
  std::printf("%-17s | %-36s | %-36s | %-36s\n", "config", kLoads[0], kLoads[1], kLoads[2]);
  for (auto& s : specs)
    std::printf("%-17s | %-36s | %-36s | %-36s\n", s.name.c_str(), cell(0, s.name).c_str(),
                cell(1, s.name).c_str(), cell(2, s.name).c_str());
  if (churn_failures)
    std::printf("churn: %lu connects failed\n", static_cast<unsigned long>(churn_failures));
  if (prog_stats) {
    set_bpf_stats(false);
    std::printf("\nin-situ ns per program run (bpf_stats, over all rounds; includes the "
                "accounting's own clock reads: see the empty program)\n");
    for (int load = 0; load < 3; ++load)
      for (auto& s : specs)
        for (auto& [name, v] : runs[load][s.name])
          if (v.second >= 10000)  // not the odd neighbour discovery of an idle namespace
            std::printf("  %-11s %-17s %-16s %6.1f ns over %lu runs\n", kLoads[load],
                        s.name.c_str(), name.c_str(), static_cast<double>(v.first) / v.second,
                        static_cast<unsigned long>(v.second));
  }

  if (profile) {
    std::printf("\nwhere each program's time goes (--profile: perf cpu-clock samples at %d Hz "
                "during the floods, charged to the BPF source line of the instruction before "
                "each sample; the first line, the prologue, is the cost of entering a program)\n",
                profile_hz);
    for (int load = 0; load < 2; ++load)
      for (auto& s : specs)
        if (profiles[load].count(s.name))
          wiretag::bench::print_profile(std::string(kLoads[load]) + ", " + s.name,
                                        profiles[load][s.name], profiled_packets[load][s.name],
                                        path_samples[load][s.name], profile_hz, 12);
    // The filters side by side: what each costs the path, whichever hook it runs in.
    std::printf("\nfilter work, share of the path's CPU (BPF programs + netfilter's functions; "
                "the hooks' inlined dispatch is in neither)\n");
    for (int load = 0; load < 2; ++load)
      for (auto& s : specs) {
        if (!profiles[load].count(s.name) || !path_samples[load][s.name]) continue;
        uint64_t bpf = 0, nf = 0;
        for (const auto& [name, p] : profiles[load][s.name]) (name == kNetfilter ? nf : bpf) += p.on_cpu;
        const double all = static_cast<double>(path_samples[load][s.name]);
        std::printf("  %-11s %-17s %6.2f%%  (BPF %5.2f%%, netfilter %5.2f%%)\n", kLoads[load],
                    s.name.c_str(), 100.0 * (bpf + nf) / all, 100.0 * bpf / all, 100.0 * nf / all);
      }
  }

  // Targets (issue 18). Each is judged on paired ratios: in every round, wiretag's rate over
  // its peer's rate in that same round (seconds apart, where the machine's speed moved little),
  // then their median over rounds with a 95% interval. The medians of the table's ratios to
  // "none" mix rounds of different speeds: on a noisy machine they can rank two filters
  // in the wrong order.
  std::printf("\ntargets (paired: each round's rate of the first over the second's in the same "
              "round; median and its 95%% interval over the rounds):\n");
  auto paired = [&](int load, const std::string& a, const std::string& b) {
    std::vector<double> r;
    auto& ra = rate[load][a];
    auto& rb = rate[load][b];
    for (size_t i = 0; i < ra.size() && i < rb.size(); ++i)
      if (rb[i] > 0) r.push_back(ra[i] / rb[i]);
    return wiretag::bench::median_interval(r);
  };
  // target 0: no target, the pair printed beside the others.
  auto judge = [&](int load, const std::string& a, const std::string& b, double target) {
    if (rate[load][a].empty() || rate[load][b].empty()) return;
    auto m = paired(load, a, b);
    std::string verdict = "no target: replies admitted by both";
    if (target > 0) {
      char t[64];
      std::snprintf(t, sizeof t, "target ≥ %.2f  %s", target,
                    m.median >= target ? "MET" : "NOT MET");
      verdict = t;
      if (m.low < target && m.high >= target)
        verdict += " (the interval holds the target: not told apart)";
    }
    std::printf("  %-12s / %-12s %-11s: %5.3f (%5.3f–%5.3f), %s\n", a.c_str(), b.c_str(),
                kLoads[load], m.median, m.low, m.high, verdict.c_str());
  };
  for (size_t n : sizes)
    for (int load = 0; load < 2; ++load)
      judge(load, "wiretag-" + size_name(n), "nft-set-" + size_name(n), 1.0);
  // Against the empty programs on the hook wiretag itself uses (TCX where the kernel has it).
  const std::string empty = wiretag::datapath::tcx_supported() ? "empty-tcx" : "empty-tc";
  for (size_t n : sizes) judge(0, "wiretag-" + size_name(n), empty, 0.97);
  judge(0, "wiretag-10k", "iptables-10k", 100.0);
  // Beside nftables with the semantics wiretag has (replies admitted).
  if (!sizes.empty())
    for (int load = 0; load < 2; ++load)
      judge(load, "wiretag-" + size_name(sizes[0]), "nft-set-" + size_name(sizes[0]) + "-ct", 0);
  datapaths.clear();
  bench_baseline_bpf::destroy(empty_skel);
  bench_probe_bpf::destroy(probe_skel);
  remove_namespaces();
  return 0;
}
