// The XDP gate (bpf/lib/gate.h) through BPF_PROG_TEST_RUN: VXLAN-GBP packets with IPv4 and
// IPv6 outer headers, the GBP flag bits, non-VXLAN traffic, truncated outer headers, an
// unknown VTEP, a denied and an allowed inner flow, a reply, unknown destinations. Each
// row checks the XDP action and the one counter the run bumped (or none).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

// The underlay: this cell 198.18.0.2 / 2001:2::2, cell A 198.18.0.1 / 2001:2::1, a rogue .99.
const std::string kSelf4 = "198.18.0.2", kCellA4 = "198.18.0.1", kRogue4 = "198.18.0.99";
const std::string kSelf6 = "2001:2::2", kCellA6 = "2001:2::1", kRogue6 = "2001:2::99";
// The overlay: our endpoint (tag 21) and a container of cell A (tag 11).
const std::string kEp4 = "198.19.2.1", kEp6 = "2001:2:0:2::1";
const std::string kPeer4 = "198.19.1.1", kPeer6 = "2001:2:0:1::1";
// The test run's skb device is the loopback: stamp runs there, so the endpoint is on it too.
constexpr uint32_t kEpIfindex = kTestIfindex;
constexpr uint16_t kAllowedTag = 11, kOtherTag = 12;
constexpr uint8_t kFlagsGbp = 0x88, kFlagsNoG = 0x08, kFlagsNoI = 0x80;

using CounterId = std::tuple<uint32_t, uint8_t, uint8_t, uint8_t>;

struct GateOutcome {
  int action = -1;
  int rows_changed = 0;
  CounterId counted{};
  std::string error;
};

std::ostream& operator<<(std::ostream& os, const GateOutcome& o) {
  if (!o.error.empty()) return os << "{error " << o.error << "}";
  return os << "{action " << o.action << ", rows changed " << o.rows_changed << ", reason "
            << reason_text(std::get<2>(o.counted)) << ", direction " << int(std::get<1>(o.counted))
            << "}";
}

std::vector<uint8_t> inner_tcp(bool v6, uint16_t dport, uint8_t flags = kTcpSyn,
                               uint16_t sport = 40000) {
  auto b = v6 ? PacketBuilder::ipv6(kPeer6, kEp6) : PacketBuilder::ipv4(kPeer4, kEp4);
  return b.tcp(sport, dport, flags).build();
}

// A VXLAN packet on the underlay from `outer_src` to this cell.
std::vector<uint8_t> vxlan(const std::string& outer_src, const std::vector<uint8_t>& inner,
                           uint8_t flags = kFlagsGbp, uint16_t gbp = kAllowedTag,
                           uint16_t port = WT_VXLAN_PORT) {
  const bool v6 = outer_src.find(':') != std::string::npos;
  auto b = v6 ? PacketBuilder::ipv6(outer_src, kSelf6) : PacketBuilder::ipv4(outer_src, kSelf4);
  return b.udp(51000, port).payload(vxlan_payload(flags, gbp, 42, inner)).build();
}

class Gate : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner(options());
    ASSERT_TRUE(runner_);
    EndpointSetup ep;
    ep.tag = 21;
    ep.flags = WT_EP_ANTISPOOF_V4 | WT_EP_ANTISPOOF_V6;
    ep.ipv4 = kEp4;
    ep.ipv6 = kEp6;
    ASSERT_EQ(
        runner_->configure(ep, {{kAllowedTag, Protocol::Tcp, PortRange{8080, 8080}}}, kEpIfindex),
        "");
    auto vteps = dp().set_vteps({kCellA4, kCellA6, kSelf4});
    ASSERT_TRUE(vteps) << vteps.error().message;
    auto fd = dp().gate_prog_fd();
    ASSERT_TRUE(fd) << fd.error().code << ": " << fd.error().message;
    gate_fd_ = *fd;
  }

  virtual datapath::Options options() const { return test_options(); }
  datapath::Datapath& dp() { return runner_->datapath(); }

  std::map<CounterId, uint64_t> snapshot() {
    std::map<CounterId, uint64_t> out;
    for (const auto& row : dp().counters())
      out[{row.key.ifindex, row.key.direction, row.key.reason, row.key.verdict}] =
          row.total.packets;
    return out;
  }

  // The events the gate sends for one frame (the ring buffer read until empty).
  std::vector<wt_event> events_of(const std::vector<uint8_t>& frame) {
    std::vector<wt_event> events;
    EXPECT_TRUE(dp().on_event([&](const wt_event& e) { events.push_back(e); }));
    EXPECT_EQ(action(frame), XDP_DROP);
    for (int i = 0; i < 100; ++i) {
      auto n = dp().poll_events(0);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
    }
    return events;
  }

  int action(const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> out(frame.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(frame.size()),
                .data_size_out = static_cast<__u32>(out.size()), .repeat = 1);
    if (bpf_prog_test_run_opts(gate_fd_, &opts) != 0) return -errno;
    return static_cast<int>(opts.retval);
  }

  GateOutcome run(const std::vector<uint8_t>& frame) {
    GateOutcome o;
    auto before = snapshot();
    o.action = action(frame);
    if (o.action < 0) o.error = std::strerror(-o.action);
    for (const auto& [id, packets] : snapshot()) {
      auto it = before.find(id);
      if (packets == (it == before.end() ? 0 : it->second)) continue;
      ++o.rows_changed;
      o.counted = id;
    }
    return o;
  }

  void expect_pass(const std::string& what, const std::vector<uint8_t>& frame) {
    auto o = run(frame);
    EXPECT_EQ(o.action, XDP_PASS) << what << " " << o;
    EXPECT_EQ(o.rows_changed, 0) << what << " " << o;
  }

  void expect_drop(const std::string& what, const std::vector<uint8_t>& frame, uint32_t reason) {
    auto o = run(frame);
    EXPECT_EQ(o.action, XDP_DROP) << what << " " << o;
    EXPECT_EQ(o.rows_changed, 1) << what << " " << o;
    // Counted under the underlay device (the test run's: loopback), direction gate.
    EXPECT_EQ(o.counted, (CounterId{1, WT_DIR_GATE, reason, WT_VERDICT_DROP})) << what << " " << o;
  }

  std::unique_ptr<ProgRunner> runner_;
  int gate_fd_ = -1;
};

TEST_F(Gate, KnownCellsAllowedInnerFlowPasses) {
  expect_pass("v4 outer, v4 inner tcp/8080", vxlan(kCellA4, inner_tcp(false, 8080)));
  expect_pass("v4 outer, v6 inner tcp/8080", vxlan(kCellA4, inner_tcp(true, 8080)));
  expect_pass("v6 outer, v4 inner tcp/8080", vxlan(kCellA6, inner_tcp(false, 8080)));
  expect_pass("v6 outer, v6 inner tcp/8080", vxlan(kCellA6, inner_tcp(true, 8080)));
}

TEST_F(Gate, DeniedInnerFlowDropsAsPolicy) {
  expect_drop("v4 outer, tcp/9999", vxlan(kCellA4, inner_tcp(false, 9999)), WT_REASON_DROP_POLICY);
  expect_drop("v6 outer, v6 inner tcp/9999", vxlan(kCellA6, inner_tcp(true, 9999)),
              WT_REASON_DROP_POLICY);
  expect_drop("tag 12 to tcp/8080", vxlan(kCellA4, inner_tcp(false, 8080), kFlagsGbp, kOtherTag),
              WT_REASON_DROP_POLICY);
  auto udp = PacketBuilder::ipv4(kPeer4, kEp4).udp(40000, 8080).build();
  expect_drop("udp/8080 (the rule is tcp)", vxlan(kCellA4, udp), WT_REASON_DROP_POLICY);
  // Asked again: the verdict cache's answer is the same.
  expect_drop("v4 outer, tcp/9999 again", vxlan(kCellA4, inner_tcp(false, 9999)),
              WT_REASON_DROP_POLICY);
}

TEST_F(Gate, UnknownVtepDropsWhateverItCarries) {
  expect_drop("v4 rogue, allowed tag and flow", vxlan(kRogue4, inner_tcp(false, 8080)),
              WT_REASON_DROP_UNKNOWN_VTEP);
  expect_drop("v6 rogue, allowed tag and flow", vxlan(kRogue6, inner_tcp(true, 8080)),
              WT_REASON_DROP_UNKNOWN_VTEP);
  expect_drop("v4 rogue, untagged", vxlan(kRogue4, inner_tcp(false, 8080), kFlagsNoG, 0),
              WT_REASON_DROP_UNKNOWN_VTEP);
  expect_drop("v4 rogue, unknown inner destination",
              vxlan(kRogue4, PacketBuilder::ipv4(kPeer4, "198.19.2.77").tcp(1, 2).build()),
              WT_REASON_DROP_UNKNOWN_VTEP);
}

TEST_F(Gate, GbpFlagBits) {
  // No G bit: no Group Policy ID, the packet is untagged (TC applies the untagged setting),
  // whatever the ID field holds.
  expect_pass("G clear, id 12, denied port", vxlan(kCellA4, inner_tcp(false, 9999), kFlagsNoG, 12));
  // No I bit: not a valid VXLAN header; the vxlan driver drops it, not the gate.
  expect_pass("I clear", vxlan(kCellA4, inner_tcp(false, 9999), kFlagsNoI, kAllowedTag));
  expect_pass("I clear from a rogue", vxlan(kRogue4, inner_tcp(false, 8080), kFlagsNoI));
  // The D and A bits (byte 1) change nothing.
  auto payload = vxlan_payload(kFlagsGbp, kAllowedTag, 42, inner_tcp(false, 9999));
  payload[1] = 0x48;
  auto da = PacketBuilder::ipv4(kCellA4, kSelf4).udp(51000, WT_VXLAN_PORT).payload(payload).build();
  expect_drop("D and A bits set, denied port", da, WT_REASON_DROP_POLICY);
}

TEST_F(Gate, NonVxlanTrafficPasses) {
  expect_pass("udp/53 from a rogue", PacketBuilder::ipv4(kRogue4, kSelf4).udp(5353, 53).build());
  expect_pass("tcp/4789 from a rogue", PacketBuilder::ipv4(kRogue4, kSelf4).tcp(1, 4789).build());
  expect_pass("udp/8472 (another VXLAN port) from a rogue",
              vxlan(kRogue4, inner_tcp(false, 9999), kFlagsGbp, kAllowedTag, 8472));
  expect_pass("icmpv6 from a rogue",
              PacketBuilder::ipv6(kRogue6, kSelf6).icmp_echo_request(1).build());
  expect_pass("arp", PacketBuilder::arp_request(kRogue4, kSelf4).build());
  expect_pass("ethertype 0x88cc", PacketBuilder::ethernet(0x88cc, 46).build());
  // An outer fragment: its UDP header is not where a VXLAN header would follow.
  expect_pass("v4 outer later fragment",
              PacketBuilder::ipv4(kRogue4, kSelf4).fragment(10, false, 7).raw_l4(17, 64).build());
  expect_pass("v4 outer first fragment to the VXLAN port",
              PacketBuilder::ipv4(kRogue4, kSelf4)
                  .fragment(0, true, 9)
                  .udp(1, WT_VXLAN_PORT)
                  .payload(vxlan_payload(kFlagsGbp, kAllowedTag, 42, inner_tcp(false, 8080)))
                  .build());
  // Not a pass: the parser walks IPv6 extension headers, as the stack does before it hands UDP to
  // VXLAN.
  expect_drop("v6 outer with a destination-options header, from a rogue",
              PacketBuilder::ipv6(kRogue6, kSelf6)
                  .ext_header(kIpv6DestOpts)
                  .udp(1, WT_VXLAN_PORT)
                  .payload(vxlan_payload(kFlagsGbp, kAllowedTag, 42, inner_tcp(false, 8080)))
                  .build(),
              WT_REASON_DROP_UNKNOWN_VTEP);
}

TEST_F(Gate, TruncatedOuterHeadersPass) {
  auto full = vxlan(kRogue4, inner_tcp(false, 8080));
  // Ethernet only; in the IPv4 header; in the UDP header; in the VXLAN header.
  for (size_t len : {14u, 14u + 12u, 14u + 20u + 4u, 14u + 20u + 8u + 4u}) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + len);
    expect_pass("v4 cut at " + std::to_string(len), cut);
  }
  auto full6 = vxlan(kRogue6, inner_tcp(true, 8080));
  for (size_t len : {14u + 30u, 14u + 40u + 6u, 14u + 40u + 8u + 7u}) {
    std::vector<uint8_t> cut(full6.begin(), full6.begin() + len);
    expect_pass("v6 cut at " + std::to_string(len), cut);
  }
  // Lengths that say more than the frame holds.
  expect_pass(
      "v4 total length past the frame",
      PacketBuilder::ipv4(kRogue4, kSelf4).total_length(1400).udp(1, WT_VXLAN_PORT).build());
  // A known cell's VXLAN header whose inner frame is cut: TC sees what the stack makes of it.
  auto inner = vxlan(kCellA4, inner_tcp(false, 9999));
  std::vector<uint8_t> cut(inner.begin(), inner.begin() + 14 + 20 + 8 + 8 + 14 + 10);
  expect_pass("known cell, inner IPv4 header cut", cut);
}

TEST_F(Gate, UnknownInnerDestinationAndNonEnforcingEndpointsPass) {
  expect_pass("no endpoint has 198.19.2.77",
              vxlan(kCellA4, PacketBuilder::ipv4(kPeer4, "198.19.2.77").tcp(1, 9999).build()));
  EndpointSetup audit;
  audit.tag = 21;
  audit.mode = WT_MODE_AUDIT;
  audit.flags = WT_EP_ANTISPOOF_V4;
  audit.ipv4 = kEp4;
  ASSERT_EQ(
      runner_->configure(audit, {{kAllowedTag, Protocol::Tcp, PortRange{8080, 8080}}}, kEpIfindex),
      "");
  expect_pass("endpoint in audit mode: TC counts the would-drop",
              vxlan(kCellA4, inner_tcp(false, 9999)));
  // The IPv6 address is no longer the endpoint's: the gate does not know where it goes.
  expect_pass("an address the endpoint dropped", vxlan(kCellA4, inner_tcp(true, 9999)));
}

TEST_F(Gate, ReplyToAFlowTheEndpointOpenedPasses) {
  // The endpoint opens tcp 198.19.2.1:40001 -> 198.19.1.1:443 (stamp records the flow).
  auto out = PacketBuilder::ipv4(kEp4, kPeer4).tcp(40001, 443, kTcpSyn).build();
  ASSERT_EQ(runner_->run(Program::Stamp, out, 0, kEpIfindex).reason, WT_REASON_STAMPED);
  // The reply comes back with tag 11, to port 40001, which no rule allows.
  expect_pass("the SYN-ACK", vxlan(kCellA4, inner_tcp(false, 40001, kTcpSyn | kTcpAck, 443)));
  expect_drop("a SYN to the same port is no reply",
              vxlan(kCellA4, inner_tcp(false, 40001, kTcpSyn, 443)), WT_REASON_DROP_POLICY);
}

// An ICMP error may be a reply to one of the endpoint's flows (bpf/lib/related.h): the gate
// leaves every ICMP error to TC, which reads the quote; any other ICMP it still judges.
TEST_F(Gate, IcmpErrorsAreLeftToTc) {
  auto quoted = PacketBuilder::ipv4(kEp4, kPeer4).tcp(40002, 443, kTcpAck).build();
  std::vector<uint8_t> quote(quoted.begin() + 14, quoted.begin() + 14 + 28);
  expect_pass("a fragmentation needed to the endpoint, tag 12",
              vxlan(kCellA4, PacketBuilder::ipv4(kPeer4, kEp4).icmp(3, 4).payload(quote).build(),
                    kFlagsGbp, kOtherTag));
  expect_drop("an echo request, tag 12",
              vxlan(kCellA4, PacketBuilder::ipv4(kPeer4, kEp4).icmp_echo_request(9).build(),
                    kFlagsGbp, kOtherTag),
              WT_REASON_DROP_POLICY);
}

// A flow cache of fewer sets than the programs' default: the gate finds the flows stamp
// cached in the same sets (it gets wt_flow_cache_shift from the live datapath).
class GateSmallFlowCache : public Gate {
 protected:
  datapath::Options options() const override {
    auto o = test_options();
    o.flow_cache_sets = WT_FLOW_CACHE_MIN_SETS;
    return o;
  }
};

TEST_F(GateSmallFlowCache, RepliesToFlowsInTheSharedCachePass) {
  for (uint16_t port = 40001; port <= 40008; ++port) {
    auto out = PacketBuilder::ipv4(kEp4, kPeer4).tcp(port, 443, kTcpSyn).build();
    ASSERT_EQ(runner_->run(Program::Stamp, out, 0, kEpIfindex).reason, WT_REASON_STAMPED);
    expect_pass("the SYN-ACK to port " + std::to_string(port),
                vxlan(kCellA4, inner_tcp(false, port, kTcpSyn | kTcpAck, 443)));
  }
}

TEST_F(Gate, WithoutAVtepSetInForceNoSourceIsRefused) {
  auto fresh = open_runner();
  ASSERT_TRUE(fresh);
  auto fd = fresh->datapath().gate_prog_fd();
  ASSERT_TRUE(fd);
  auto frame = vxlan(kRogue4, inner_tcp(false, 8080));
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(out.size()), .repeat = 1);
  ASSERT_EQ(bpf_prog_test_run_opts(*fd, &opts), 0);
  EXPECT_EQ(opts.retval, uint32_t{XDP_PASS}) << "a cell that has not heard the set yet";
  ASSERT_TRUE(fresh->datapath().set_vteps({kCellA4}));
  ASSERT_EQ(bpf_prog_test_run_opts(*fd, &opts), 0);
  EXPECT_EQ(opts.retval, uint32_t{XDP_DROP}) << "once the set is in force";
}

TEST_F(Gate, VtepSetIsReplacedWhole) {
  expect_pass("cell A is known", vxlan(kCellA4, inner_tcp(false, 8080)));
  ASSERT_TRUE(dp().set_vteps({kRogue4, kCellA6}));
  EXPECT_EQ(dp().vteps(), (std::vector<std::string>{"198.18.0.99", "2001:2::1"}));
  expect_drop("cell A's IPv4 left the set", vxlan(kCellA4, inner_tcp(false, 8080)),
              WT_REASON_DROP_UNKNOWN_VTEP);
  expect_pass("the former rogue joined it", vxlan(kRogue4, inner_tcp(false, 8080)));
  auto bad = dp().set_vteps({"198.18.0.1", "cell-a"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "INVALID_VTEP");
  EXPECT_EQ(dp().vteps(), (std::vector<std::string>{"198.18.0.99", "2001:2::1"}))
      << "a refused set changes nothing";
  ASSERT_TRUE(dp().set_vteps({}));
  EXPECT_TRUE(dp().vteps().empty());
  expect_pass("an empty set puts none in force", vxlan(kCellA4, inner_tcp(false, 8080)));
}

TEST_F(Gate, DropEventNamesTheOuterSource) {
  auto events = events_of(vxlan(kRogue4, inner_tcp(false, 8080)));
  ASSERT_EQ(events.size(), 1u);
  const wt_event& e = events[0];
  EXPECT_EQ(e.direction, WT_DIR_GATE);
  EXPECT_EQ(e.reason, WT_REASON_DROP_UNKNOWN_VTEP);
  EXPECT_EQ(e.verdict, WT_VERDICT_DROP);
  EXPECT_EQ(e.src_tag, kAllowedTag);
  EXPECT_EQ(e.family, 4);
  EXPECT_EQ(e.proto, IPPROTO_UDP);
  uint8_t rogue[16] = {};
  inet_pton(AF_INET, kRogue4.c_str(), rogue);
  EXPECT_EQ(std::memcmp(e.saddr, rogue, 16), 0) << "the outer source";
  EXPECT_EQ(ntohs(e.dport), WT_VXLAN_PORT);
  EXPECT_EQ(e.outer_family, 4);
  EXPECT_EQ(std::memcmp(e.outer_saddr, rogue, 16), 0) << "the VTEP it came from";
}

// A policy drop shows the inner flow that was denied, and the cell it came from.
TEST_F(Gate, DropPolicyEventCarriesTheInnerFlowAndTheOuterSource) {
  auto events = events_of(vxlan(kCellA6, inner_tcp(false, 9999)));
  ASSERT_EQ(events.size(), 1u);
  const wt_event& e = events[0];
  EXPECT_EQ(e.direction, WT_DIR_GATE);
  EXPECT_EQ(e.reason, WT_REASON_DROP_POLICY);
  EXPECT_EQ(e.family, 4) << "the inner packet";
  EXPECT_EQ(e.proto, IPPROTO_TCP);
  EXPECT_EQ(ntohs(e.dport), 9999);
  uint8_t cell[16] = {};
  inet_pton(AF_INET6, kCellA6.c_str(), cell);
  EXPECT_EQ(e.outer_family, 6);
  EXPECT_EQ(std::memcmp(e.outer_saddr, cell, 16), 0) << "the VTEP it came from";
}

}  // namespace
}  // namespace wiretag::test
