// wiretag-bench-gate: the rate at which a cell drops a denied cross-cell VXLAN-GBP flood, at the
// XDP gate on its underlay device against TC enforce on the endpoint's host veth (issue 18).
// Needs root. A benchmark, not a test (its --smoke run checks only that the counters move).
//
//   remote ns (eth0 198.18.0.2) ─veth─ ul0 198.18.0.1 [cell ns] vxlan0 (GBP, VNI 42) → hv ─veth─
//   eth0 198.19.1.2 (app ns)                                              (--underlay veth)
//   the bench's write() ─ tap fd ─ ul0 198.18.0.1 [cell ns] ... the same   (--underlay tap)
//
// The cell is set up as the lab's (scripts/lib/lab.sh): ul0 its underlay device, vxlan0 a
// VXLAN-GBP device on it (dstport 4789, the remote cell's VTEP MAC in its FDB), the endpoint's
// host veth hv routed (198.19.1.0/24), ip_forward on. wiretag's Datapath (the library) has hv
// as an endpoint (tag 21, anti-spoof address 198.19.1.2) whose one rule allows tag 11 on udp/5000.
// The flood: prebuilt frames (outer IPv4/UDP from the remote cell's VTEP 198.18.0.2 to
// 4789, VXLAN with the G bit and a Group Policy ID, inner Ethernet/IPv4/UDP from 198.19.2.2 to
// the endpoint's udp/5000, 18 bytes of payload) injected with AF_PACKET on the remote's eth0
// (veth) or written to the tap's fd (tap: XDP runs before an skb exists, as on a NIC), the
// sender SCHED_FIFO on the last CPU, so the whole receive path runs in its context and the
// rate is that path's cost. Both underlays run one after the other by default. Cases:
//   tc-enforce    no gate; tag 12 decapsulated by vxlan0, forwarded, dropped by enforce on hv
//                 (enforce drop_policy);
//   xdp-gate      the gate on ul0, the remote a known VTEP; tag 12 dropped at XDP (gate
//                 drop_policy);
//   unknown-vtep  the gate on ul0, the remote not in the VTEP set; tag 11, a rogue's allowed tag
//                 (gate drop_unknown_vtep);
//   xdp-drop      the ceiling of this path: instead of the gate, an XDP program that counts
//                 and drops every packet without reading it (xdp_drop.bpf.c);
//   allowed       no gate; tag 11 passed by enforce (allow_rule) and delivered into the app ns;
//   allowed-gate  the same with the gate on ul0 passing it (what the gate adds to allowed traffic).
// A case's rate is its wiretag counter's increase over the measured window. Every case checks
// that the counter followed the flood (>= 90 % of what was sent over the whole flood) and that
// no other stage saw it (a gate drop never reaches enforce; without the gate, no gate row moves):
// otherwise the bench fails (exit 1).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "bench_netns.h"
#include "bench_xdp_drop_bpf.skel.h"
#include "core/policy_compiler.h"
#include "datapath/datapath.h"
#include "datapath/packet_builder.h"

namespace {

using wiretag::Protocol;
using wiretag::Rule;
using wiretag::bench::fail;
using wiretag::bench::in_netns;
using wiretag::bench::median;
using wiretag::bench::netns_path;
using wiretag::bench::run;
using wiretag::datapath::Datapath;
using wiretag::datapath::PacketBuilder;
using Clock = std::chrono::steady_clock;

constexpr const char* kCellUnderlay = "198.18.0.1";    // ul0: this cell's VTEP
constexpr const char* kRemoteUnderlay = "198.18.0.2";  // the remote cell's VTEP (the sender)
constexpr const char* kOtherCell = "198.18.0.3";       // a VTEP in the set that is not the sender
constexpr const char* kRemoteApp = "198.19.2.2";       // the inner source: a remote container
constexpr const char* kApp = "198.19.1.2";             // the endpoint
constexpr uint16_t kVxlanPort = 4789;
constexpr uint32_t kVni = 42;
constexpr uint16_t kFloodPort = 5000;  // udp, the endpoint's
constexpr uint32_t kEndpointTag = 21;
constexpr uint16_t kAllowedTag = 11;  // the endpoint's rule: 11 on udp/5000
constexpr uint16_t kDeniedTag = 12;   // no rule: drop_policy
constexpr uint8_t kUl0Mac[6] = {0x02, 0, 0, 0, 0x0a, 1};
constexpr uint8_t kRemoteUlMac[6] = {0x02, 0, 0, 0, 0x0a, 2};
constexpr uint8_t kVxlanMac[6] = {0x02, 0, 0, 0, 0x0b, 1};        // the cell's vxlan0
constexpr uint8_t kRemoteVxlanMac[6] = {0x02, 0, 0, 0, 0x0b, 2};  // the remote cell's vxlan0
constexpr double kMinCounted = 0.9;  // of the packets sent, counted by the case's counter

// Sets the UDP length (PacketBuilder leaves it 0) and no checksum: the stack drops a VXLAN
// datagram whose length is short.
void finish_udp(std::vector<uint8_t>& frame, size_t l4) {
  const size_t len = frame.size() - l4;
  frame[l4 + 4] = static_cast<uint8_t>(len >> 8);
  frame[l4 + 5] = static_cast<uint8_t>(len);
  frame[l4 + 6] = frame[l4 + 7] = 0;
}

// From the remote cell's VTEP to this cell's: a remote container's 18-byte UDP datagram to the
// endpoint, carrying Group Policy ID `tag`.
std::vector<uint8_t> vxlan_frame(uint16_t tag) {
  auto inner_b = PacketBuilder::ipv4(kRemoteApp, kApp);
  inner_b.udp(40000, kFloodPort).payload(18);
  auto inner = inner_b.build();
  std::memcpy(inner.data(), kVxlanMac, 6);
  std::memcpy(inner.data() + 6, kRemoteVxlanMac, 6);
  finish_udp(inner, inner_b.l4_offset());
  auto outer_b = PacketBuilder::ipv4(kRemoteUnderlay, kCellUnderlay);
  outer_b.dont_fragment()
      .udp(51000, kVxlanPort)
      .payload(wiretag::datapath::vxlan_payload(0x88 /* I and G */, tag, kVni, inner));
  auto outer = outer_b.build();
  std::memcpy(outer.data(), kUl0Mac, 6);
  std::memcpy(outer.data() + 6, kRemoteUlMac, 6);
  finish_udp(outer, outer_b.l4_offset());
  return outer;
}

std::string mac_text(const uint8_t (&m)[6]) {
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return out;
}

// The cell's underlay device, and what the "wire" is.
//   veth  ul0 a veth whose peer is the remote's eth0; the frames injected with AF_PACKET there
//         (sendmmsg, 64 a call). veth's native XDP runs on an skb the sender already built, and
//         copies it (skb_pp_cow_data: an AF_PACKET skb has less than XDP_PACKET_HEADROOM).
//   tap   ul0 a TAP device (tun driver, IFF_TAP | IFF_NO_PI) made by the bench in the cell; the
//         frames written to its fd, 64 a kernel entry with io_uring (TapRing, the default) or
//         one write() a frame (a tun fd is not a socket: no sendmmsg, and tun takes one frame
//         per write). tun_get_user() copies the frame into a page
//         fragment and runs an attached XDP program on it before any skb exists
//         (tun_build_skb), as a NIC driver's XDP runs on its receive buffer (a VM's virtio-net
//         receive is this path); without XDP, or on XDP_PASS, the skb is built around that
//         buffer and received by the stack in the writer's context (netif_receive_skb).
enum class Underlay { Veth, Tap };

const char* underlay_name(Underlay u) { return u == Underlay::Veth ? "veth" : "tap"; }

struct Topology {
  Underlay underlay = Underlay::Veth;
  std::string remote, cell, app;        // namespace names (no remote namespace for a tap)
  wiretag::bench::PacketSocket packet;  // veth: AF_PACKET on the remote's eth0
  int tap_fd = -1;                      // tap: the tap's queue; the frames are written to it
  int sink_fd = -1;                     // udp/5000 in the app ns, never read
  uint32_t ul0 = 0, hv = 0;             // ifindexes in the cell
};

// A TAP device `name` in the namespace `ns`, its fd non-blocking: tun builds the skb around a
// page fragment and runs XDP first only for a non-blocking writer (tun_can_build_skb), and a
// tap's fd is its only queue (the device goes when the fd is closed).
int make_tap(const std::string& ns, const char* name) {
  return in_netns(ns, [&] {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail(std::string("open /dev/net/tun: ") + std::strerror(errno));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) fail(std::string("TUNSETIFF: ") + std::strerror(errno));
    return fd;
  });
}

Topology make_topology(Underlay underlay) {
  Topology t;
  t.underlay = underlay;
  const std::string base =
      "wtgb" + std::to_string(::getpid()) + (underlay == Underlay::Veth ? "v" : "t");
  t.cell = base + "c";
  t.app = base + "a";
  if (underlay == Underlay::Veth) t.remote = base + "r";
  std::vector<std::string> namespaces = {t.cell, t.app};
  if (!t.remote.empty()) namespaces.push_back(t.remote);
  for (auto& ns : namespaces) {
    wiretag::bench::keep_namespace(ns);
    run("ip netns add " + ns);
    run("ip netns exec " + ns +
        " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
  }
  const std::string R = t.remote, C = t.cell, A = t.app;
  run("ip netns exec " + C +
      " sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0"
      " net.ipv4.conf.default.rp_filter=0");
  // The underlay (the lab's MTU: room for VXLAN). veth: the remote's eth0 and the cell's ul0.
  // tap: ul0 alone, the remote cell only its addresses (the frames' outer source, a permanent
  // neighbour entry).
  if (underlay == Underlay::Veth) {
    run("ip -n " + C + " link add ul0 mtu 1550 address " + mac_text(kUl0Mac) +
        " type veth peer name eth0 mtu 1550 address " + mac_text(kRemoteUlMac) + " netns " + R +
        " && ip -n " + R + " addr add " + kRemoteUnderlay + "/24 dev eth0 && ip -n " + R +
        " link set eth0 up && ip -n " + R + " link set lo up");
  } else {
    t.tap_fd = make_tap(C, "ul0");
    run("ip -n " + C + " link set ul0 mtu 1550 address " + mac_text(kUl0Mac));
  }
  run("ip -n " + C + " addr add " + kCellUnderlay + "/24 dev ul0 && ip -n " + C +
      " link set ul0 up && ip -n " + C + " link set lo up");
  if (underlay == Underlay::Tap)
    run("ip -n " + C + " neigh add " + kRemoteUnderlay + " lladdr " + mac_text(kRemoteUlMac) +
        " dev ul0 nud permanent");
  // The VTEP as the lab makes it; the remote cell's vxlan0 in the FDB and as the next hop to
  // its containers.
  run("ip -n " + C + " link add vxlan0 address " + mac_text(kVxlanMac) +
      " mtu 1500 type vxlan id " + std::to_string(kVni) + " dstport " + std::to_string(kVxlanPort) +
      " local " + kCellUnderlay + " dev ul0 gbp && ip -n " + C + " link set vxlan0 up && ip -n " +
      C + " addr add 198.19.0.1/24 dev vxlan0 && ip -n " + C + " neigh add 198.19.0.2 lladdr " +
      mac_text(kRemoteVxlanMac) + " dev vxlan0 nud permanent && bridge -n " + C + " fdb append " +
      mac_text(kRemoteVxlanMac) + " dev vxlan0 dst " + kRemoteUnderlay +
      " self permanent && ip -n " + C + " route add 198.19.2.0/24 via 198.19.0.2 dev vxlan0");
  // The endpoint: hv in the cell, eth0 in the app ns.
  run("ip -n " + C + " link add hv address 02:00:00:00:0c:01 type veth peer name eth0 address " +
      "02:00:00:00:0c:02 netns " + A + " && ip -n " + C +
      " addr add 198.19.1.1/24 dev hv && ip -n " + C + " link set hv up && ip -n " + C +
      " neigh add " + kApp + " lladdr 02:00:00:00:0c:02 dev hv nud permanent && ip -n " + A +
      " addr add " + kApp + "/24 dev eth0 && ip -n " + A + " link set eth0 up && ip -n " + A +
      " link set lo up && ip -n " + A + " route add default via 198.19.1.1");

  if (underlay == Underlay::Veth) t.packet = wiretag::bench::packet_socket(R, "eth0", kUl0Mac);
  in_netns(A, [&] {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kFloodPort);
    ::inet_pton(AF_INET, kApp, &a.sin_addr);
    t.sink_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    ::setsockopt(t.sink_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (::bind(t.sink_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      fail(std::string("bind udp sink: ") + std::strerror(errno));
    return 0;
  });
  in_netns(C, [&] {
    t.ul0 = if_nametoindex("ul0");
    t.hv = if_nametoindex("hv");
    return 0;
  });
  return t;
}

void close_topology(Topology& t) {
  for (int* fd : {&t.packet.fd, &t.tap_fd, &t.sink_fd})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
}

// The tap's wire with 64 writes a kernel entry: io_uring, IORING_OP_WRITE of `frame` to the tap's
// fd, 64 a submission, waiting for their 64 completions in the same io_uring_enter. The tap's fd
// is non-blocking, so io_uring issues each write inline in the submitting thread (no io-wq
// worker): tun's path (XDP, or the skb and the stack) runs in the sender's context as with
// write(), but the kernel is entered once for 64 frames, as a NIC driver's poll takes many.
class TapRing {
 public:
  static constexpr unsigned kDepth = 64;

  explicit TapRing(int tap_fd) : tap_fd_(tap_fd) {
    io_uring_params p{};
    fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, kDepth, &p));
    if (fd_ < 0) fail(std::string("io_uring_setup: ") + std::strerror(errno));
    sq_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
    sq_ = map(sq_len_, IORING_OFF_SQ_RING);
    cq_ = map(cq_len_, IORING_OFF_CQ_RING);
    sqes_ = static_cast<io_uring_sqe*>(map(sqes_len_, IORING_OFF_SQES));
    sq_tail_ = at<unsigned>(sq_, p.sq_off.tail);
    sq_mask_ = *at<unsigned>(sq_, p.sq_off.ring_mask);
    sq_array_ = at<unsigned>(sq_, p.sq_off.array);
    cq_head_ = at<unsigned>(cq_, p.cq_off.head);
    cq_tail_ = at<unsigned>(cq_, p.cq_off.tail);
    cq_mask_ = *at<unsigned>(cq_, p.cq_off.ring_mask);
    cqes_ = at<io_uring_cqe>(cq_, p.cq_off.cqes);
  }
  TapRing(const TapRing&) = delete;
  TapRing& operator=(const TapRing&) = delete;
  ~TapRing() {
    ::munmap(sqes_, sqes_len_);
    ::munmap(cq_, cq_len_);
    ::munmap(sq_, sq_len_);
    ::close(fd_);
  }

  // Writes `frame` kDepth times; returns how many tun took whole.
  unsigned write_batch(const std::vector<uint8_t>& frame) {
    unsigned tail = __atomic_load_n(sq_tail_, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < kDepth; ++i, ++tail) {
      const unsigned slot = tail & sq_mask_;
      io_uring_sqe& e = sqes_[slot];
      std::memset(&e, 0, sizeof e);
      e.opcode = IORING_OP_WRITE;
      e.fd = tap_fd_;
      e.addr = reinterpret_cast<uint64_t>(frame.data());
      e.len = static_cast<uint32_t>(frame.size());
      e.off = ~0ULL;  // no file position: a character device
      sq_array_[slot] = slot;
    }
    __atomic_store_n(sq_tail_, tail, __ATOMIC_RELEASE);
    if (::syscall(__NR_io_uring_enter, fd_, kDepth, kDepth, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
      fail(std::string("io_uring_enter: ") + std::strerror(errno));
    unsigned head = __atomic_load_n(cq_head_, __ATOMIC_RELAXED), ok = 0;
    const unsigned end = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    for (; head != end; ++head)
      if (cqes_[head & cq_mask_].res == static_cast<int>(frame.size())) ++ok;
    __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
    return ok;
  }

 private:
  void* map(size_t len, off_t what) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, what);
    if (p == MAP_FAILED) fail(std::string("mmap io_uring: ") + std::strerror(errno));
    return p;
  }
  template <typename T>
  static T* at(void* base, uint32_t off) {
    return reinterpret_cast<T*>(static_cast<char*>(base) + off);
  }

  int tap_fd_, fd_ = -1;
  size_t sq_len_ = 0, cq_len_ = 0, sqes_len_ = 0;
  void *sq_ = nullptr, *cq_ = nullptr;
  io_uring_sqe* sqes_ = nullptr;
  unsigned *sq_tail_ = nullptr, *sq_array_ = nullptr, *cq_head_ = nullptr, *cq_tail_ = nullptr;
  unsigned sq_mask_ = 0, cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
};

bool g_tap_uring = true;  // --tap-writer io_uring (else write)

// The tap's wire: `frame` written to the tap's fd, one write() a frame, until `stop`; adds the
// frames tun took to `sent`.
void flood_tap(int fd, const std::vector<uint8_t>& frame, const std::atomic<bool>& stop,
               bool realtime, std::atomic<uint64_t>& sent) {
  if (realtime) wiretag::bench::realtime_on_last_cpu();
  uint64_t n = 0;
  if (g_tap_uring) {
    TapRing ring(fd);
    while (!stop.load(std::memory_order_relaxed)) {
      n += ring.write_batch(frame);
      sent.store(n, std::memory_order_relaxed);
    }
    return;
  }
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 64; ++i)
      if (::write(fd, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size())) ++n;
    sent.store(n, std::memory_order_relaxed);
  }
}

// wiretag on the cell, through the library: hv an enforced endpoint with one rule.
std::unique_ptr<Datapath> install_wiretag(const Topology& t) {
  wiretag::datapath::Options o;
  o.pin_dir = "/sys/fs/bpf/" + t.cell;  // pinned, as the agent runs it
  wiretag::bench::keep_pin_dir(o.pin_dir);
  o.max_endpoints = 16;
  auto dp = Datapath::open(o);
  if (!dp) fail("Datapath::open: " + dp.error().message);
  wiretag::datapath::EndpointSettings ep;
  ep.tag = kEndpointTag;
  std::array<uint8_t, 4> addr{};
  ::inet_pton(AF_INET, kApp, addr.data());
  ep.antispoof_ipv4 = addr;  // the gate finds the endpoint by its inner destination address
  auto hv = (*dp)->attach({netns_path(t.cell), "hv"}, ep);
  if (!hv) fail("attach hv: " + hv.error().message);
  if (*hv != t.hv) fail("attach hv: ifindex " + std::to_string(*hv));
  std::vector<Rule> rules = {
      {kAllowedTag, Protocol::Udp, wiretag::PortRange{kFloodPort, kFloodPort}}};
  if (auto r = (*dp)->replace_policy(*hv, rules); !r) fail("replace_policy: " + r.error().message);
  (*dp)->settle();
  return std::move(*dp);
}

// ---------------------------------------------------------------------------------------------

// Packets one of wiretag's counters (ifindex, direction, reason, verdict) counted.
uint64_t read_counter(const Datapath& dp, uint32_t ifindex, uint8_t direction, uint8_t reason,
                      uint8_t verdict) {
  uint64_t n = 0;
  for (const auto& r : dp.counters(ifindex))
    if (r.key.direction == direction && r.key.reason == reason && r.key.verdict == verdict)
      n += r.total.packets;
  return n;
}

// Every packet a stage (the gate's rows on ul0, or enforce's on hv) counted, whatever the reason.
uint64_t count_stage(const Datapath& dp, uint32_t ifindex, uint8_t direction) {
  uint64_t n = 0;
  for (const auto& r : dp.counters(ifindex))
    if (r.key.direction == direction) n += r.total.packets;
  return n;
}

// What runs at XDP on ul0: nothing, the gate (the sender a known VTEP or not), or the ceiling
// (xdp_drop.bpf.c: count and drop).
enum class Xdp { Off, Gate, GateUnknownSender, Drop };

bool is_gate(Xdp x) { return x == Xdp::Gate || x == Xdp::GateUnknownSender; }

struct Case {
  std::string name;
  std::string what;  // the counter, for the table
  Xdp xdp;
  bool denied;                      // tag 12 (else 11)
  std::function<uint64_t()> count;  // its rate
  uint32_t other_ifindex;           // a stage that must not see the flood
  uint8_t other_direction;
};

struct Bench {
  Topology t;
  std::unique_ptr<Datapath> dp;
  bench_xdp_drop_bpf* drop = nullptr;
  Xdp xdp = Xdp::Off;
  std::string gate_mode = "?", drop_mode = "?";
};

std::string xdp_mode_name(uint8_t mode) {
  switch (mode) {
    case XDP_ATTACHED_DRV:
      return "native (driver)";
    case XDP_ATTACHED_SKB:
      return "generic (skb)";
    case XDP_ATTACHED_HW:
      return "offloaded";
    case XDP_ATTACHED_MULTI:
      return "multi";
    default:
      return "none";
  }
}

std::string xdp_mode(const Bench& b) {
  return in_netns(b.t.cell, [&] {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(static_cast<int>(b.t.ul0), 0, &q) != 0) return std::string("?");
    return xdp_mode_name(q.attach_mode);
  });
}

// Packets the ceiling program dropped, over CPUs.
uint64_t ceiling_drops(const Bench& b) {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(cpus > 0 ? static_cast<size_t>(cpus) : 1);
  uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(b.drop->maps.drops), &key, v.data()) != 0)
    fail("read the ceiling's drops");
  uint64_t n = 0;
  for (auto x : v) n += x;
  return n;
}

void set_xdp(Bench& b, Xdp want) {
  if (want == b.xdp) return;
  const wiretag::datapath::Device ul0{netns_path(b.t.cell), "ul0"};
  if (b.xdp == Xdp::Drop && in_netns(b.t.cell, [&] {
                              return bpf_xdp_detach(static_cast<int>(b.t.ul0), 0, nullptr);
                            }) != 0)
    fail("detach the ceiling XDP program");
  if (is_gate(b.xdp) && !is_gate(want))
    if (auto r = b.dp->detach_gate(ul0); !r) fail("detach_gate: " + r.error().message);
  if (want == Xdp::Drop) {
    const int fd = bpf_program__fd(b.drop->progs.wt_xdp_drop_prog);
    if (in_netns(b.t.cell,
                 [&] { return bpf_xdp_attach(static_cast<int>(b.t.ul0), fd, 0, nullptr); }) != 0)
      fail("attach the ceiling XDP program");
    b.drop_mode = xdp_mode(b);
  }
  if (is_gate(want)) {
    if (!is_gate(b.xdp)) {
      if (auto r = b.dp->attach_gate(ul0); !r) fail("attach_gate: " + r.error().message);
      b.gate_mode = xdp_mode(b);
    }
    std::vector<std::string> vteps = {kCellUnderlay,
                                      want == Xdp::Gate ? kRemoteUnderlay : kOtherCell};
    if (auto r = b.dp->set_vteps(vteps); !r) fail("set_vteps: " + r.error().message);
  }
  b.xdp = want;
}

struct Sample {
  double rate = 0;         // the counter's increase per second over the window
  uint64_t sent = 0;       // over the whole flood
  uint64_t counted = 0;    // the counter's increase over the whole flood
  uint64_t elsewhere = 0;  // the other stage's increase over the whole flood
};

bool g_realtime = true;
double g_warmup = 0.2;  // seconds of flood before the measured window

Sample measure(Bench& b, const Case& c, const std::vector<uint8_t>& frame, double seconds) {
  set_xdp(b, c.xdp);
  const std::vector<std::vector<uint8_t>> frames = {frame};
  const uint64_t start = c.count();
  const uint64_t other_start = count_stage(*b.dp, c.other_ifindex, c.other_direction);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread sender([&] {
    if (b.t.underlay == Underlay::Tap)
      flood_tap(b.t.tap_fd, frame, stop, g_realtime, sent);
    else
      wiretag::bench::flood(b.t.packet, frames, stop, g_realtime, &sent);
  });
  std::this_thread::sleep_for(std::chrono::duration<double>(g_warmup));
  const uint64_t c0 = c.count();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t c1 = c.count();
  const double dt = wiretag::bench::seconds_since(t0);
  stop = true;
  sender.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the last packets' softirq
  Sample s;
  s.rate = static_cast<double>(c1 - c0) / dt;
  s.sent = sent.load();
  s.counted = c.count() - start;
  s.elsewhere = count_stage(*b.dp, c.other_ifindex, c.other_direction) - other_start;
  if (s.sent == 0)
    fail(c.name + ": the flood sender sent nothing in " + std::to_string(seconds + g_warmup) +
         " s (another SCHED_FIFO thread on the last CPU? --no-realtime)");
  // The numbers are real only if the flood reached the counter, and only it.
  if (s.counted == 0 || static_cast<double>(s.counted) < kMinCounted * static_cast<double>(s.sent))
    fail(c.name + ": " + c.what + " rose by " + std::to_string(s.counted) + " while " +
         std::to_string(s.sent) + " packets were sent (< " +
         std::to_string(static_cast<int>(kMinCounted * 100)) +
         " %): the flood does not reach that stage");
  if (static_cast<double>(s.elsewhere) > 0.01 * static_cast<double>(s.sent))
    fail(c.name + ": " + std::to_string(s.elsewhere) + " of " + std::to_string(s.sent) +
         " packets were counted by the " +
         (c.other_direction == WT_DIR_GATE ? "gate" : "endpoint's enforce") +
         ", which this case must not reach");
  return s;
}

std::string rate_text(double r) {
  char out[32];
  if (r >= 1e6)
    std::snprintf(out, sizeof out, "%.2fM", r / 1e6);
  else
    std::snprintf(out, sizeof out, "%.0fk", r / 1e3);
  return out;
}

// One underlay's rounds and table; its gate/TC ratio (median over rounds), 0 when the cases
// run do not give it.
double run_underlay(Underlay underlay, int rounds, double seconds, const std::string& only) {
  std::printf("\n== underlay %s: %s\n", underlay_name(underlay),
              underlay == Underlay::Veth
                  ? "ul0 a veth, the frames sent with AF_PACKET on its peer (sendmmsg)"
                  : (g_tap_uring ? "ul0 a TAP device, the frames written to its fd with io_uring "
                                   "(64 writes a kernel entry; XDP runs on tun's buffer before an "
                                   "skb exists)"
                                 : "ul0 a TAP device, the frames written to its fd (one write a "
                                   "frame; XDP runs on tun's buffer before an skb exists)"));
  std::fflush(stdout);
  Bench b;
  auto setup = Clock::now();
  b.t = make_topology(underlay);
  b.dp = install_wiretag(b.t);
  b.drop = bench_xdp_drop_bpf::open_and_load();
  if (!b.drop) fail("load the ceiling XDP program");
  // Load and attach the programs once before the rounds (the verifier's pass is not measured).
  set_xdp(b, Xdp::Drop);
  set_xdp(b, Xdp::Gate);
  std::printf(
      "set up in %.1f s; on ul0 (%s): the gate in %s XDP mode, the ceiling in %s; TC hook %s\n",
      wiretag::bench::seconds_since(setup), underlay_name(underlay), b.gate_mode.c_str(),
      b.drop_mode.c_str(), wiretag::datapath::tc_hook_name(b.dp->tc_hook()));
  std::fflush(stdout);

  const auto denied = vxlan_frame(kDeniedTag), allowed = vxlan_frame(kAllowedTag);
  const Datapath& dp = *b.dp;
  const uint32_t hv = b.t.hv, ul0 = b.t.ul0;
  auto counter = [&dp](uint32_t ifindex, uint8_t direction, uint8_t reason, uint8_t verdict) {
    return [&dp, ifindex, direction, reason, verdict] {
      return read_counter(dp, ifindex, direction, reason, verdict);
    };
  };
  const auto enforce_drop = counter(hv, WT_DIR_ENFORCE, WT_REASON_DROP_POLICY, WT_VERDICT_DROP);
  const auto enforce_allow = counter(hv, WT_DIR_ENFORCE, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  std::vector<Case> cases = {
      {"tc-enforce", "enforce drop_policy on hv", Xdp::Off, true, enforce_drop, ul0, WT_DIR_GATE},
      {"xdp-gate", "gate drop_policy on ul0", Xdp::Gate, true,
       counter(ul0, WT_DIR_GATE, WT_REASON_DROP_POLICY, WT_VERDICT_DROP), hv, WT_DIR_ENFORCE},
      {"unknown-vtep", "gate drop_unknown_vtep on ul0", Xdp::GateUnknownSender, false,
       counter(ul0, WT_DIR_GATE, WT_REASON_DROP_UNKNOWN_VTEP, WT_VERDICT_DROP), hv, WT_DIR_ENFORCE},
      {"xdp-drop", "the ceiling program's count", Xdp::Drop, true,
       [&b] { return ceiling_drops(b); }, hv, WT_DIR_ENFORCE},
      {"allowed", "enforce allow_rule on hv", Xdp::Off, false, enforce_allow, ul0, WT_DIR_GATE},
      {"allowed-gate", "enforce allow_rule on hv", Xdp::Gate, false, enforce_allow, ul0,
       WT_DIR_GATE},
  };

  if (!only.empty())
    std::erase_if(cases, [&](const Case& c) {
      return ("," + only + ",").find("," + c.name + ",") == std::string::npos;
    });
  if (cases.empty()) fail("--only names no case");
  auto has = [&](const std::string& name) {
    return std::any_of(cases.begin(), cases.end(), [&](const Case& c) { return c.name == name; });
  };
  const bool target = has("xdp-gate") && has("tc-enforce");

  std::map<std::string, std::vector<double>> rate;
  std::map<std::string, uint64_t> sent, counted;
  std::vector<double> ratio;  // xdp-gate / tc-enforce, per round
  for (int r = 0; r < rounds; ++r) {
    std::map<std::string, double> got;
    std::string line;
    for (size_t j = 0; j < cases.size(); ++j) {
      const Case& c = cases[(j + static_cast<size_t>(r)) % cases.size()];
      Sample s = measure(b, c, c.denied ? denied : allowed, seconds);
      got[c.name] = s.rate;
      rate[c.name].push_back(s.rate);
      sent[c.name] += s.sent;
      counted[c.name] += s.counted;
      line += "  " + c.name + " " + rate_text(s.rate) + "/s";
    }
    if (target) {
      ratio.push_back(got["xdp-gate"] / got["tc-enforce"]);
      char r_text[32];
      std::snprintf(r_text, sizeof r_text, "; gate/TC %.2fx", ratio.back());
      line += r_text;
    }
    std::printf("  round %d/%d:%s\n", r + 1, rounds, line.c_str());
    std::fflush(stdout);
  }

  // Per packet, 1/rate: the sender's own work (AF_PACKET, the skb) is in every case; what a
  // case costs beyond the ceiling (xdp-drop) is its path's work after the packet reached ul0.
  std::printf(
      "\npackets/s by wiretag's counters, median (min-max over %d rounds); ns per packet "
      "(of the median), and beyond the ceiling (xdp-drop)\n",
      rounds);
  std::printf("%-13s | %-30s | %-26s | %-7s | %-7s | %s\n", "case", "counter",
              "median (min-max) /s", "ns/pkt", "beyond", "counted/sent");
  const double ceiling_ns = has("xdp-drop") ? 1e9 / median(rate["xdp-drop"]) : 0;
  for (const auto& c : cases) {
    auto& v = rate[c.name];
    std::string cell = rate_text(median(v)) + " (" +
                       rate_text(*std::min_element(v.begin(), v.end())) + "-" +
                       rate_text(*std::max_element(v.begin(), v.end())) + ")";
    const double ns = 1e9 / median(v);
    char beyond[16] = "-";
    if (ceiling_ns > 0) std::snprintf(beyond, sizeof beyond, "%.0f", ns - ceiling_ns);
    std::printf("%-13s | %-30s | %-26s | %-7.0f | %-7s | %.3f\n", c.name.c_str(), c.what.c_str(),
                cell.c_str(), ns, beyond,
                static_cast<double>(counted[c.name]) / static_cast<double>(sent[c.name]));
  }
  const double m = median(ratio);
  if (target)
    std::printf(
        "\ntarget: a denied cross-cell flood dropped by the XDP gate at >= 3x the rate TC "
        "enforce drops it\n  xdp-gate / tc-enforce: %.2fx (%.2f-%.2f) vs >= 3x  %s\n",
        m, *std::min_element(ratio.begin(), ratio.end()),
        *std::max_element(ratio.begin(), ratio.end()), m >= 3 ? "MET" : "NOT MET");
  set_xdp(b, Xdp::Off);
  b.dp.reset();
  bench_xdp_drop_bpf::destroy(b.drop);
  close_topology(b.t);
  wiretag::bench::remove_namespaces();
  return target ? m : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  double seconds = 1.0;
  bool quick = false, smoke = false, no_realtime = false;
  CLI::App app{
      "wiretag-bench-gate: the rate at which a cell drops a denied cross-cell VXLAN-GBP flood, at "
      "the XDP gate on its underlay device against TC enforce on the endpoint's host veth "
      "(issue 18's target: the gate >= 3x TC enforce). Needs root.\n\n"
      "Per underlay, namespaces wtgb<pid>{v,t}{c,a} (and a remote wtgb<pid>vr for the veth): the "
      "cell's underlay device ul0, its VXLAN-GBP device vxlan0 on it, an endpoint veth (hv) into "
      "an app namespace; wiretag's Datapath with hv enforced, one rule allowing tag 11 on "
      "udp/5000. VXLAN-GBP frames from the remote cell's VTEP, sent by a SCHED_FIFO thread on "
      "the last CPU: --underlay veth, ul0 a veth and the frames injected with AF_PACKET on its "
      "peer (veth's XDP runs on the sender's skb, copied); --underlay tap, ul0 a TAP device and "
      "the frames written to its fd (tun runs XDP on its buffer before an skb exists, as a NIC "
      "driver or virtio-net does). Cases, interleaved in every round (order rotated): tc-enforce "
      "(no gate, tag 12 dropped by enforce on hv), xdp-gate (the gate on ul0, tag 12 dropped "
      "there), unknown-vtep (the gate, the sender not a known VTEP), xdp-drop (the ceiling: an "
      "XDP program that counts and drops), allowed and allowed-gate (tag 11 passed by enforce, "
      "without and with the gate). Rates are wiretag's own counters over "
      "the measured window; the bench fails if a counter does not follow the flood."};
  app.add_option("--rounds", rounds, "interleaved rounds (medians over them)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds,
                 "measured seconds per case and round (after 0.2 s of warm-up)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quick", quick, "2 rounds of 0.5 s");
  app.add_flag("--smoke", smoke,
               "1 round of 0.2 s (0.05 s of warm-up) at normal priority, both underlays: checks "
               "only that every counter follows the "
               "flood (ctest bench.gate_smoke)");
  std::string only;
  app.add_option("--only", only,
                 "comma-separated cases to run (tc-enforce, xdp-gate, unknown-vtep, xdp-drop, "
                 "allowed, allowed-gate); default all");
  std::string underlay_opt = "both";
  app.add_option("--underlay", underlay_opt,
                 "the cell's underlay device: veth, tap, or both (one after the other)")
      ->check(CLI::IsMember({"veth", "tap", "both"}));
  std::string tap_writer = "io_uring";
  app.add_option("--tap-writer", tap_writer,
                 "how the tap's frames are written: io_uring (64 writes a kernel entry, issued "
                 "inline in the sender) or write (one write() a frame)")
      ->check(CLI::IsMember({"io_uring", "write"}));
  app.add_flag("--no-realtime", no_realtime,
               "flood sender at normal priority (default: SCHED_FIFO on the last CPU)");
  CLI11_PARSE(app, argc, argv);
  g_realtime = !no_realtime;
  g_tap_uring = tap_writer == "io_uring";
  if (quick) {
    rounds = 2;
    seconds = 0.5;
  }
  if (smoke) {
    rounds = 1;
    seconds = 0.2;
    g_warmup = 0.05;
    g_realtime = false;
  }
  if (::geteuid() != 0) wiretag::bench::die("needs root (namespaces, BPF)");
  libbpf_set_print(nullptr);
  spdlog::set_level(spdlog::level::warn);
  wiretag::bench::install_cleanup("wiretag-bench-gate");

  std::printf("wiretag-bench-gate: %s\n", wiretag::bench::machine_line().c_str());
  std::printf("%d rounds, %.1f s per case; flood sender %s; underlay %s\n", rounds, seconds,
              g_realtime ? "SCHED_FIFO on the last CPU" : "at normal priority",
              underlay_opt.c_str());
  std::fflush(stdout);

  std::vector<Underlay> underlays;
  if (underlay_opt == "veth" || underlay_opt == "both") underlays.push_back(Underlay::Veth);
  if (underlay_opt == "tap" || underlay_opt == "both") underlays.push_back(Underlay::Tap);
  std::map<Underlay, double> ratios;
  for (auto u : underlays) ratios[u] = run_underlay(u, rounds, seconds, only);
  if (underlays.size() > 1 && ratios[Underlay::Veth] > 0 && ratios[Underlay::Tap] > 0)
    std::printf("\nxdp-gate / tc-enforce vs >= 3x: veth %.2fx, tap %.2fx\n", ratios[Underlay::Veth],
                ratios[Underlay::Tap]);
  return 0;
}
