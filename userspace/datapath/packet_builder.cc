#include "datapath/packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace wiretag::datapath {
namespace {

constexpr uint8_t kDstMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kSrcMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr size_t kEthHlen = 14;

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  put16(b, off, static_cast<uint16_t>(v >> 16));
  put16(b, off + 2, static_cast<uint16_t>(v));
}

void parse_addr(int family, const std::string& text, uint8_t* out) {
  if (inet_pton(family, text.c_str(), out) != 1) throw std::invalid_argument("bad address " + text);
}

uint16_t checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> ethernet_header(uint16_t ethertype) {
  std::vector<uint8_t> b(kEthHlen);
  std::memcpy(b.data(), kDstMac, 6);
  std::memcpy(b.data() + 6, kSrcMac, 6);
  put16(b, 12, ethertype);
  return b;
}

std::vector<uint8_t> icmp_header(uint8_t type, uint8_t code, uint16_t id, uint16_t seq) {
  std::vector<uint8_t> h(8);
  h[0] = type;
  h[1] = code;
  put16(h, 4, id);
  put16(h, 6, seq);
  return h;
}

}  // namespace

PacketBuilder PacketBuilder::ipv4(const std::string& src, const std::string& dst) {
  PacketBuilder p;
  p.kind_ = Kind::Ipv4;
  p.ethertype_ = kEthIpv4;
  parse_addr(AF_INET, src, p.src_);
  parse_addr(AF_INET, dst, p.dst_);
  p.l4_proto_ = 255;  // reserved: replaced by the L4 call
  return p;
}

PacketBuilder PacketBuilder::ipv6(const std::string& src, const std::string& dst) {
  PacketBuilder p;
  p.kind_ = Kind::Ipv6;
  p.ethertype_ = kEthIpv6;
  parse_addr(AF_INET6, src, p.src_);
  parse_addr(AF_INET6, dst, p.dst_);
  return p;
}

PacketBuilder PacketBuilder::arp_request(const std::string& sender, const std::string& target) {
  PacketBuilder p;
  p.kind_ = Kind::Raw;
  p.ethertype_ = kEthArp;
  p.l3_raw_.assign(28, 0);
  put16(p.l3_raw_, 0, 1);       // Ethernet
  put16(p.l3_raw_, 2, 0x0800);  // IPv4
  p.l3_raw_[4] = 6;
  p.l3_raw_[5] = 4;
  put16(p.l3_raw_, 6, 1);  // request
  std::memcpy(&p.l3_raw_[8], kSrcMac, 6);
  parse_addr(AF_INET, sender, &p.l3_raw_[14]);
  parse_addr(AF_INET, target, &p.l3_raw_[24]);
  return p;
}

PacketBuilder PacketBuilder::ethernet(uint16_t ethertype, size_t payload) {
  PacketBuilder p;
  p.kind_ = Kind::Raw;
  p.ethertype_ = ethertype;
  p.l3_raw_.assign(payload, 0);
  return p;
}

PacketBuilder& PacketBuilder::ip_options(std::vector<uint8_t> options) {
  while (options.size() % 4) options.push_back(0);  // end-of-options padding
  ip_options_ = std::move(options);
  return *this;
}

PacketBuilder& PacketBuilder::ihl(uint8_t words) {
  ihl_ = words;
  return *this;
}

PacketBuilder& PacketBuilder::ip_version(uint8_t version) {
  version_ = version;
  return *this;
}

PacketBuilder& PacketBuilder::ip_id(uint16_t id) {
  ip_id_ = id;
  return *this;
}

PacketBuilder& PacketBuilder::total_length(uint16_t len) {
  total_length_ = len;
  return *this;
}

PacketBuilder& PacketBuilder::ip_protocol(uint8_t proto) {
  protocol_ = proto;
  return *this;
}

PacketBuilder& PacketBuilder::dont_fragment() {
  frag_field_ |= 0x4000;
  return *this;
}

PacketBuilder& PacketBuilder::fragment(uint16_t offset_units, bool more, uint32_t id) {
  if (kind_ == Kind::Ipv4) {
    frag_field_ = static_cast<uint16_t>((frag_field_ & 0x4000) | (more ? 0x2000 : 0) |
                                        (offset_units & 0x1fff));
    ip_id_ = static_cast<uint16_t>(id);
    return *this;
  }
  std::vector<uint8_t> h(8);
  put16(h, 2, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
  put32(h, 4, id);
  ext_.push_back({kIpv6Fragment, std::move(h)});
  return *this;
}

PacketBuilder& PacketBuilder::ext_header(uint8_t type, size_t len) {
  if (len < 8 || len % 8 || len > 2048) throw std::invalid_argument("extension header length");
  std::vector<uint8_t> h(len);
  h[1] = static_cast<uint8_t>(len / 8 - 1);
  // PadN options fill the rest, so options headers stay well-formed.
  for (size_t off = 2; off < len;) {
    size_t n = std::min<size_t>(len - off, 257);
    if (n == 1) break;  // a trailing zero byte is a Pad1 option
    h[off] = 1;
    h[off + 1] = static_cast<uint8_t>(n - 2);
    off += n;
  }
  if (type == kIpv6Auth) {  // AH counts its length in 4-byte words, minus 2
    h[1] = static_cast<uint8_t>(len / 4 - 2);
    h[2] = h[3] = 0;
  }
  if (type == kIpv6Routing) {  // type 0 routing header with no segments left
    h[2] = 0;
    h[3] = 0;
  }
  ext_.push_back({type, std::move(h)});
  return *this;
}

PacketBuilder& PacketBuilder::jumbo(std::optional<uint32_t> len) {
  constexpr uint8_t kTlvJumbo = 0xc2;
  ext_.push_back({kIpv6HopByHop, {0, 0, kTlvJumbo, 4, 0, 0, 0, 0}, true, len});
  return *this;
}

PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags,
                                  uint8_t data_offset) {
  l4_proto_ = 6;
  udp_header_ = false;
  l4_.assign(20, 0);
  put16(l4_, 0, sport);
  put16(l4_, 2, dport);
  put32(l4_, 4, 1000);  // seq
  if (flags & kTcpAck) put32(l4_, 8, 2000);
  l4_[12] = static_cast<uint8_t>(data_offset << 4);
  l4_[13] = flags;
  put16(l4_, 14, 65535);  // window
  // Options space for data offsets above 5, so doff alone does not truncate the header.
  if (data_offset > 5) l4_.resize(static_cast<size_t>(data_offset) * 4, 1 /* NOP */);
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
  l4_proto_ = 17;
  l4_.assign(8, 0);
  udp_header_ = true;  // its length is set by build(), over the payload too
  put16(l4_, 0, sport);
  put16(l4_, 2, dport);
  return *this;
}

uint8_t PacketBuilder::icmp_proto() const { return kind_ == Kind::Ipv6 ? 58 : 1; }

PacketBuilder& PacketBuilder::icmp_echo_request(uint16_t id, uint16_t seq) {
  l4_proto_ = icmp_proto();
  udp_header_ = false;
  l4_ = icmp_header(kind_ == Kind::Ipv6 ? 128 : 8, 0, id, seq);
  return *this;
}

PacketBuilder& PacketBuilder::icmp_echo_reply(uint16_t id, uint16_t seq) {
  l4_proto_ = icmp_proto();
  udp_header_ = false;
  l4_ = icmp_header(kind_ == Kind::Ipv6 ? 129 : 0, 0, id, seq);
  return *this;
}

PacketBuilder& PacketBuilder::icmp(uint8_t type, uint8_t code) {
  l4_proto_ = icmp_proto();
  udp_header_ = false;
  l4_ = icmp_header(type, code, 0, 0);
  if (kind_ == Kind::Ipv6 && type >= 135 && type <= 136) l4_.resize(24, 0);  // + target
  return *this;
}

PacketBuilder& PacketBuilder::raw_l4(uint8_t proto, size_t len) {
  l4_proto_ = proto;
  udp_header_ = false;
  l4_.assign(len, 0xab);
  return *this;
}

PacketBuilder& PacketBuilder::payload(size_t len) {
  payload_.assign(len, 0x5a);
  return *this;
}

PacketBuilder& PacketBuilder::payload(std::vector<uint8_t> bytes) {
  payload_ = std::move(bytes);
  return *this;
}

std::vector<uint8_t> vxlan_payload(uint8_t flags, uint16_t gbp, uint32_t vni,
                                   const std::vector<uint8_t>& inner) {
  std::vector<uint8_t> v(8, 0);
  v[0] = flags;
  v[2] = static_cast<uint8_t>(gbp >> 8);
  v[3] = static_cast<uint8_t>(gbp);
  v[4] = static_cast<uint8_t>(vni >> 16);
  v[5] = static_cast<uint8_t>(vni >> 8);
  v[6] = static_cast<uint8_t>(vni);
  v.insert(v.end(), inner.begin(), inner.end());
  return v;
}

PacketBuilder& PacketBuilder::l4_truncate(size_t n) {
  if (n < l4_.size()) l4_.resize(n);
  return *this;
}

PacketBuilder& PacketBuilder::truncate(size_t frame_len) {
  truncate_ = frame_len;
  return *this;
}

size_t PacketBuilder::l4_offset() const {
  size_t off = kEthHlen;
  if (kind_ == Kind::Ipv4) off += 20 + ip_options_.size();
  if (kind_ == Kind::Ipv6) {
    off += 40;
    for (const auto& e : ext_) off += e.bytes.size();
  }
  return off;
}

std::vector<uint8_t> PacketBuilder::build() const {
  std::vector<uint8_t> f = ethernet_header(ethertype_);
  uint8_t proto = protocol_.value_or(l4_proto_);

  if (kind_ == Kind::Raw) {
    f.insert(f.end(), l3_raw_.begin(), l3_raw_.end());
  } else if (kind_ == Kind::Ipv4) {
    std::vector<uint8_t> ip(20);
    size_t hlen = 20 + ip_options_.size();
    size_t total = hlen + l4_.size() + payload_.size();
    ip[0] = static_cast<uint8_t>(version_.value_or(4) << 4 | (ihl_.value_or(hlen / 4) & 0xf));
    put16(ip, 2, total_length_.value_or(static_cast<uint16_t>(total)));
    put16(ip, 4, ip_id_);
    put16(ip, 6, frag_field_);
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(&ip[12], src_, 4);
    std::memcpy(&ip[16], dst_, 4);
    ip.insert(ip.end(), ip_options_.begin(), ip_options_.end());
    put16(ip, 10, checksum(ip.data(), ip.size()));
    f.insert(f.end(), ip.begin(), ip.end());
  } else {
    std::vector<uint8_t> ip(40);
    size_t ext_len = 0;
    for (const auto& e : ext_) ext_len += e.bytes.size();
    size_t payload_len = ext_len + l4_.size() + payload_.size();
    bool jumbo = std::any_of(ext_.begin(), ext_.end(), [](const ExtHeader& e) { return e.jumbo; });
    ip[0] = static_cast<uint8_t>(version_.value_or(6) << 4);
    put16(ip, 4, total_length_.value_or(jumbo ? 0 : static_cast<uint16_t>(payload_len)));
    ip[6] = ext_.empty() ? proto : ext_[0].type;
    ip[7] = 64;
    std::memcpy(&ip[8], src_, 16);
    std::memcpy(&ip[24], dst_, 16);
    f.insert(f.end(), ip.begin(), ip.end());
    for (size_t i = 0; i < ext_.size(); ++i) {
      std::vector<uint8_t> h = ext_[i].bytes;
      h[0] = i + 1 < ext_.size() ? ext_[i + 1].type : proto;
      if (ext_[i].jumbo) put32(h, 4, ext_[i].jumbo_len.value_or(static_cast<uint32_t>(payload_len)));
      f.insert(f.end(), h.begin(), h.end());
    }
  }
  const size_t l4_at = f.size();
  f.insert(f.end(), l4_.begin(), l4_.end());
  f.insert(f.end(), payload_.begin(), payload_.end());
  if (udp_header_ && l4_.size() >= 6)  // the UDP length: header and payload
    put16(f, l4_at + 4, static_cast<uint16_t>(l4_.size() + payload_.size()));
  if (truncate_ && *truncate_ < f.size()) f.resize(*truncate_);
  return f;
}

}  // namespace wiretag::datapath
