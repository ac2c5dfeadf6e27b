// Crafts Ethernet frames for BPF_PROG_TEST_RUN (tests, bench, trace): IPv4 (options, IHL, flags and fragment
// offset, total length overrides) or IPv6 (a chain of extension headers, payload length
// override), then TCP, UDP, ICMP/ICMPv6 or raw L4 bytes, then an optional truncation.
// Lengths (IP and UDP) are computed at build(); every override applies after that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wiretag::datapath {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthArp = 0x0806;

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOpts = 60;
constexpr uint8_t kIpv6Auth = 51;

// A VXLAN header (draft-smith-vxlan-group-policy) and the inner frame after it: `flags` is
// byte 0 (0x08 I, 0x80 G), `gbp` the Group Policy ID. The UDP payload of a VXLAN-GBP packet.
std::vector<uint8_t> vxlan_payload(uint8_t flags, uint16_t gbp, uint32_t vni,
                                   const std::vector<uint8_t>& inner);

class PacketBuilder {
 public:
  // Addresses as text; only 198.18.0.0/15 and 2001:2::/48 belong in tests.
  static PacketBuilder ipv4(const std::string& src, const std::string& dst);
  static PacketBuilder ipv6(const std::string& src, const std::string& dst);
  static PacketBuilder arp_request(const std::string& sender, const std::string& target);
  // An Ethernet header with this ethertype and `payload` zero bytes after it.
  static PacketBuilder ethernet(uint16_t ethertype, size_t payload);

  // IPv4 header fields.
  PacketBuilder& ip_options(std::vector<uint8_t> options);  // padded to a multiple of 4
  PacketBuilder& ihl(uint8_t words);                        // overrides the computed IHL
  PacketBuilder& ip_version(uint8_t version);               // IPv4 or IPv6 version nibble
  PacketBuilder& ip_id(uint16_t id);
  PacketBuilder& total_length(uint16_t len);  // IPv4 total length / IPv6 payload length
  PacketBuilder& ip_protocol(uint8_t proto);  // overrides the L4's protocol number

  PacketBuilder& dont_fragment();  // IPv4 DF, as most real traffic carries
  // IPv4: sets MF and the offset (in 8-byte units). IPv6: appends a fragment header.
  PacketBuilder& fragment(uint16_t offset_units, bool more, uint32_t id);
  // IPv6 extension header of `len` bytes (multiple of 8, >= 8): hop-by-hop, routing, dest
  // opts, AH.
  PacketBuilder& ext_header(uint8_t type, size_t len = 8);
  // IPv6 BIG TCP (RFC 2675, as the kernel builds it): a hop-by-hop header of 8 bytes holding
  // only the Jumbo Payload option, whose value is the length after the IPv6 header (or
  // `len`), and payload length 0 (unless total_length() says otherwise).
  PacketBuilder& jumbo(std::optional<uint32_t> len = std::nullopt);

  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpSyn,
                     uint8_t data_offset = 5);
  PacketBuilder& udp(uint16_t sport, uint16_t dport);
  // ICMP for IPv4, ICMPv6 for IPv6.
  PacketBuilder& icmp_echo_request(uint16_t id, uint16_t seq = 1);
  PacketBuilder& icmp_echo_reply(uint16_t id, uint16_t seq = 1);
  PacketBuilder& icmp(uint8_t type, uint8_t code = 0);
  // L4 bytes with no header semantics, e.g. the payload of a later fragment.
  PacketBuilder& raw_l4(uint8_t proto, size_t len);
  PacketBuilder& payload(size_t len);
  PacketBuilder& payload(std::vector<uint8_t> bytes);  // e.g. a VXLAN header and inner frame

  // Keeps only the first n bytes of the L4 header; IP lengths still match the frame.
  PacketBuilder& l4_truncate(size_t n);
  // Cuts the finished frame; IP lengths keep describing the untruncated packet.
  PacketBuilder& truncate(size_t frame_len);

  std::vector<uint8_t> build() const;
  // Frame offset of the L4 header (after IP options and extension headers).
  size_t l4_offset() const;

 private:
  enum class Kind { Ipv4, Ipv6, Raw };
  struct ExtHeader {
    uint8_t type;
    std::vector<uint8_t> bytes;  // nexthdr is filled in at build()
    bool jumbo = false;  // jumbo(): build() fills in the option's value: jumbo_len,
    std::optional<uint32_t> jumbo_len = std::nullopt;  // else: the length after the IPv6 header
  };

  uint8_t icmp_proto() const;

  Kind kind_ = Kind::Raw;
  uint16_t ethertype_ = 0;
  std::vector<uint8_t> l3_raw_;  // Raw: bytes after Ethernet
  uint8_t src_[16] = {}, dst_[16] = {};
  std::vector<uint8_t> ip_options_;
  std::optional<uint8_t> ihl_, version_, protocol_;
  std::optional<uint16_t> total_length_;
  uint16_t ip_id_ = 0x1234;
  uint16_t frag_field_ = 0;  // IPv4 flags + offset, host order
  std::vector<ExtHeader> ext_;
  uint8_t l4_proto_ = 59;  // IPv6 "no next header"; IPv4 gets whatever the L4 sets
  std::vector<uint8_t> l4_;
  bool udp_header_ = false;  // l4_ is udp()'s header: build() sets its length
  std::vector<uint8_t> payload_;
  std::optional<size_t> truncate_;
};

}  // namespace wiretag::datapath
