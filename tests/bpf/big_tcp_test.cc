// BIG TCP: TCP GSO packets larger than 64 KiB carry no IP length (IPv4 total length 0; IPv6
// payload length 0 and a hop-by-hop Jumbo Payload option), as the kernel builds them when an
// operator raises a device's gso/gro max sizes. The programs must read such a packet as the
// kernel does (iph_totlen(), ipv6_has_hopopt_jumbo()) and still drop every other zero length.
// BPF_PROG_TEST_RUN marks a frame as GSO through the context's gso_size; the lengths are
// those of small frames, which the parse cannot tell from large ones.
// The real-kernel check, with 200 MiB through veths at gso_max_size 185000, is
// tests/integration/big_tcp_netns.sh.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <optional>
#include <string>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
const std::string kLocal6 = "2001:2::2", kRemote6 = "2001:2::1:1";
constexpr uint32_t kOwnTag = 9, kTag = 5;
constexpr uint32_t kGso = 1448;  // a GSO packet's segment size, as TCP over a 1500 MTU
constexpr uint16_t kPort = 8080, kOtherPort = 9090;
constexpr size_t kData = 1200;  // payload bytes of each crafted packet

PacketBuilder in4() { return PacketBuilder::ipv4(kRemote4, kLocal4); }
PacketBuilder in6() { return PacketBuilder::ipv6(kRemote6, kLocal6); }

struct Case {
  std::string name;
  Program prog;
  PacketBuilder packet;
  uint32_t gso_size;
  int retval;
  uint32_t reason;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

// IPv4 BIG TCP: total length 0.
PacketBuilder big4(uint16_t dport) {
  return in4().tcp(40000, dport, kTcpAck).payload(kData).total_length(0);
}
// IPv6 BIG TCP: payload length 0, the jumbo option's value the length after the IPv6 header.
PacketBuilder big6(uint16_t dport) {
  return in6().jumbo().tcp(40000, dport, kTcpAck).payload(kData);
}
// The length after the IPv6 header of big6(): hop-by-hop 8, TCP 20, data.
constexpr uint32_t kBig6Len = 8 + 20 + kData;

std::vector<Case> table() {
  const int ok = TC_ACT_OK, shot = TC_ACT_SHOT;
  return {
      // A BIG TCP packet is read whole: its ports meet the rules as any packet's do.
      {"Ipv4GsoLengthZeroTcpIsReadAsTheSkb", Program::Enforce, big4(kPort), kGso, ok,
       WT_REASON_ALLOW_RULE},
      {"Ipv4GsoLengthZeroTcpMeetsTheRules", Program::Enforce, big4(kOtherPort), kGso, shot,
       WT_REASON_DROP_POLICY},
      {"Ipv6GsoJumboTcpIsReadThroughTheOption", Program::Enforce, big6(kPort), kGso, ok,
       WT_REASON_ALLOW_RULE},
      {"Ipv6GsoJumboTcpMeetsTheRules", Program::Enforce, big6(kOtherPort), kGso, shot,
       WT_REASON_DROP_POLICY},
      {"StampTagsIpv4BigTcp", Program::Stamp,
       PacketBuilder::ipv4(kLocal4, kRemote4)
           .tcp(40000, kPort, kTcpAck)
           .payload(kData)
           .total_length(0),
       kGso, ok, WT_REASON_STAMPED},
      {"StampTagsIpv6BigTcp", Program::Stamp,
       PacketBuilder::ipv6(kLocal6, kRemote6).jumbo().tcp(40000, kPort, kTcpAck).payload(kData),
       kGso, ok, WT_REASON_STAMPED},
      // Length 0 means "as long as the skb" only for a TCP GSO packet, as in the kernel.
      {"Ipv4LengthZeroWithoutGsoIsTruncated", Program::Enforce, big4(kPort), 0, shot,
       WT_REASON_DROP_L3_TRUNCATED},
      {"Ipv4GsoLengthZeroUdpIsTruncated", Program::Enforce,
       in4().udp(40000, kPort).payload(kData).total_length(0), kGso, shot,
       WT_REASON_DROP_L3_TRUNCATED},
      {"Ipv6JumboWithoutGsoIsBad", Program::Enforce, big6(kPort), 0, shot,
       WT_REASON_DROP_EXTHDR_BAD},
      {"Ipv6GsoJumboOverUdpIsBad", Program::Enforce, in6().jumbo().udp(40000, kPort).payload(kData),
       kGso, shot, WT_REASON_DROP_EXTHDR_BAD},
      {"Ipv6GsoLengthZeroWithoutJumboIsBad", Program::Enforce,
       in6().ext_header(kIpv6HopByHop).tcp(40000, kPort, kTcpAck).payload(kData).total_length(0),
       kGso, shot, WT_REASON_DROP_EXTHDR_BAD},
      {"Ipv6GsoLengthZeroWithoutHopByHopIsTruncated", Program::Enforce,
       in6().tcp(40000, kPort, kTcpAck).payload(kData).total_length(0), kGso, shot,
       WT_REASON_DROP_L4_TRUNCATED},
      // The jumbo length is checked against the packet like any IP length.
      {"Ipv6GsoJumboPastThePacketIsTruncated", Program::Enforce,
       in6().jumbo(kBig6Len + 8).tcp(40000, kPort, kTcpAck).payload(kData), kGso, shot,
       WT_REASON_DROP_L3_TRUNCATED},
      {"Ipv6GsoJumboFarPastThePacketIsBad", Program::Enforce,
       in6().jumbo(0xffffffffu).tcp(40000, kPort, kTcpAck).payload(kData), kGso, shot,
       WT_REASON_DROP_EXTHDR_BAD},
      {"Ipv6GsoJumboShorterThanTcpIsDropped", Program::Enforce,
       in6().jumbo(8 + 12).tcp(40000, kPort, kTcpAck).payload(kData), kGso, shot,
       WT_REASON_DROP_L4_TRUNCATED},
      {"Ipv6GsoJumboCutShortIsBad", Program::Enforce,
       in6().jumbo().tcp(40000, kPort, kTcpAck).payload(kData).truncate(14 + 40 + 6), kGso, shot,
       WT_REASON_DROP_EXTHDR_BAD},
  };
}

class BigTcp : public testing::TestWithParam<Case> {};

TEST_P(BigTcp, ReadAsTheKernelReadsIt) {
  const Case& c = GetParam();
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  EndpointSetup ep;
  ep.tag = kOwnTag;
  ASSERT_EQ(runner->configure(ep, {{kTag, Protocol::Tcp, PortRange{kPort, kPort}},
                                   {kTag, Protocol::Udp, PortRange{kPort, kPort}}}),
            "");
  Outcome o =
      runner->run(c.prog, c.packet.build(), c.prog == Program::Stamp ? 0 : kTag, 0, c.gso_size);
  ASSERT_TRUE(o.error.empty()) << o;
  EXPECT_EQ(o.retval, c.retval) << o;
  EXPECT_EQ(reason_text(o.reason), reason_text(c.reason)) << o;
  EXPECT_EQ(o.counter_rows_changed, 1) << o;
  if (c.prog == Program::Stamp) {
    EXPECT_EQ(o.mark, kOwnTag) << o;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BigTcp, testing::ValuesIn(table()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// The flow a BIG TCP packet opens admits its BIG TCP replies: both directions of a bulk
// transfer are GSO packets.
TEST(BigTcpFlow, RepliesToABigTcpFlowAreReplies) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
    auto runner = open_runner();
    ASSERT_TRUE(runner);
    EndpointSetup ep;
    ep.tag = kOwnTag;
    ASSERT_EQ(runner->configure(ep, {}), "");  // nothing may enter but replies
    auto out = v6 ? PacketBuilder::ipv6(kLocal6, kRemote6).jumbo()
                  : PacketBuilder::ipv4(kLocal4, kRemote4).total_length(0);
    auto back = v6 ? in6().jumbo() : in4().total_length(0);
    Outcome sent = runner->run(Program::Stamp,
                               out.tcp(40000, kPort, kTcpAck).payload(kData).build(), 0, 0, kGso);
    ASSERT_EQ(reason_text(sent.reason), reason_text(WT_REASON_STAMPED)) << sent;
    Outcome reply = runner->run(
        Program::Enforce, back.tcp(kPort, 40000, kTcpAck).payload(kData).build(), kTag, 0, kGso);
    EXPECT_EQ(reply.retval, TC_ACT_OK) << reply;
    EXPECT_EQ(reason_text(reply.reason), reason_text(WT_REASON_ALLOW_REPLY)) << reply;
  }
}

}  // namespace
}  // namespace wiretag::test
