// The crafted frames' computed lengths: what the BPF table tests and the trace feed the
// programs must be a packet a kernel would send, unless a test overrides a field.
#include <gtest/gtest.h>

#include "datapath/packet_builder.h"

namespace {

using wiretag::datapath::PacketBuilder;

uint16_t be16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>(f.at(at) << 8 | f.at(at + 1));
}

constexpr size_t kEth = 14;

TEST(PacketBuilder, UdpLengthCoversHeaderAndPayloadInIpv4AndIpv6) {
  auto v4 = PacketBuilder::ipv4("198.18.0.1", "198.19.0.1").udp(40000, 53).payload(10).build();
  EXPECT_EQ(be16(v4, kEth + 2), 20 + 8 + 10);  // IPv4 total length
  EXPECT_EQ(be16(v4, kEth + 20 + 4), 8 + 10);  // UDP length
  auto v6 = PacketBuilder::ipv6("2001:2::1", "2001:2::2").udp(40000, 53).build();
  EXPECT_EQ(be16(v6, kEth + 4), 8);        // IPv6 payload length
  EXPECT_EQ(be16(v6, kEth + 40 + 4), 8);   // UDP length, no payload
}

TEST(PacketBuilder, OnlyAUdpHeaderGetsAUdpLength) {
  // The L4 call last made decides: raw bytes after udp() are not a UDP header.
  auto raw = PacketBuilder::ipv4("198.18.0.1", "198.19.0.1").udp(1, 2).raw_l4(17, 8).build();
  EXPECT_EQ(be16(raw, kEth + 20 + 4), 0xabab);
  // A header cut before its length field keeps what is left.
  auto cut = PacketBuilder::ipv4("198.18.0.1", "198.19.0.1").udp(1, 2).l4_truncate(4).build();
  EXPECT_EQ(cut.size(), kEth + 20 + 4);
}

}  // namespace
