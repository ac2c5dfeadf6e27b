// The verdict table: every row is one packet through the real stamp or enforce program
// (BPF_PROG_TEST_RUN), with the endpoint's config and rules, the skb mark, any packets
// that must run first (a stamped request before its reply, a first fragment before the
// rest), and the TC action, reason and verdict it must get.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

constexpr int kOk = TC_ACT_OK;
constexpr int kShot = TC_ACT_SHOT;

// The endpoint under test (its tag is 9) and a remote app; tag 5 is the remote's, 6 another's.
const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
const std::string kLocal6 = "2001:2::2", kRemote6 = "2001:2::1:1";
constexpr uint32_t kOwnTag = 9, kTag = 5, kOtherTag = 6;

struct Step {
  Program prog;
  PacketBuilder packet;
  uint32_t mark;
};

struct Case {
  explicit Case(std::string n) : name(std::move(n)) {}

  Case& send(PacketBuilder p) {
    packet = std::move(p);
    return *this;
  }
  Case& with_mark(uint32_t m) {
    mark = m;
    return *this;
  }
  Case& with_rules(std::vector<Rule> r) {
    rules = std::move(r);
    return *this;
  }
  Case& on(EndpointSetup e) {
    endpoint = std::move(e);
    return *this;
  }
  Case& through(Program p) {
    prog = p;
    return *this;
  }
  Case& after(Program p, PacketBuilder pkt, uint32_t m = 0) {
    before.push_back({p, std::move(pkt), m});
    return *this;
  }
  Case& passes(uint32_t r) { return expect(kOk, r, WT_VERDICT_PASS); }
  Case& drops(uint32_t r) { return expect(kShot, r, WT_VERDICT_DROP); }
  Case& audits(uint32_t r) { return expect(kOk, r, WT_VERDICT_PASS); }  // a would-drop passed
  Case& expect(int rv, uint32_t r, uint8_t v) {
    retval = rv;
    reason = r;
    verdict = v;
    return *this;
  }
  Case& leaves_mark(uint32_t m) {
    mark_out = m;
    return *this;
  }
  Case& known_bug(std::string what) {
    bug = std::move(what);
    return *this;
  }
  // Some kernels refuse an IP frame shorter than its IP header in BPF_PROG_TEST_RUN.
  Case& kernel_may_refuse() {
    may_refuse = true;
    return *this;
  }

  std::string name;
  PacketBuilder packet = PacketBuilder::ethernet(0, 0);
  EndpointSetup endpoint;
  std::vector<Rule> rules;
  uint32_t mark = kTag;
  Program prog = Program::Enforce;
  std::vector<Step> before;
  int retval = -1;
  uint32_t reason = WT_REASON_MAX;
  uint8_t verdict = 0xff;
  std::optional<uint32_t> mark_out;
  std::string bug;  // a known datapath bug: the row is the behaviour it should have
  bool may_refuse = false;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

struct Family {
  const char* name;
  bool v6;
};
constexpr Family kFamilies[] = {{"Ipv4", false}, {"Ipv6", true}};

PacketBuilder incoming(const Family& f) {
  return f.v6 ? PacketBuilder::ipv6(kRemote6, kLocal6) : PacketBuilder::ipv4(kRemote4, kLocal4);
}
PacketBuilder outgoing(const Family& f) {
  return f.v6 ? PacketBuilder::ipv6(kLocal6, kRemote6) : PacketBuilder::ipv4(kLocal4, kRemote4);
}

Rule tcp(uint32_t src, uint16_t lo, uint16_t hi = 0) {
  return {src, Protocol::Tcp, PortRange{lo, hi ? hi : lo}};
}
Rule udp(uint32_t src, uint16_t lo, uint16_t hi = 0) {
  return {src, Protocol::Udp, PortRange{lo, hi ? hi : lo}};
}
Rule icmp(uint32_t src) { return {src, Protocol::Icmp, std::nullopt}; }
Rule all_ports(uint32_t src, Protocol p) { return {src, p, std::nullopt}; }
Rule any_proto(uint32_t src) { return {src, Protocol::Any, std::nullopt}; }

EndpointSetup endpoint_mode(uint8_t mode) {
  EndpointSetup e;
  e.mode = mode;
  return e;
}
EndpointSetup no_endpoint() {
  EndpointSetup e;
  e.present = false;
  return e;
}
EndpointSetup untagged_denied() {
  EndpointSetup e;
  e.untagged = WT_UNTAGGED_DENY;
  return e;
}

// TCP, UDP and ICMP through exact, wildcard-source, any-port and any-protocol rules.
void add_rule_matching(std::vector<Case>& t) {
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    // TCP
    t.push_back(Case(F + "TcpAllowedByExactPortRule")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({tcp(kTag, 8080)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpToAnotherPortIsDropped")
                    .send(incoming(f).tcp(40000, 8081))
                    .with_rules({tcp(kTag, 8080)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpFromAnotherTagIsDropped")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(kOtherTag)
                    .with_rules({tcp(kTag, 8080)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpWithNoRulesIsDropped")
                    .send(incoming(f).tcp(40000, 8080))
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpAllowedByWildcardSource")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(kOtherTag)
                    .with_rules({tcp(0, 8080)})
                    .passes(WT_REASON_ALLOW_WILDCARD));
    t.push_back(Case(F + "TcpOwnTagRuleWinsOverWildcard")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({tcp(0, 8080), tcp(kTag, 8080)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpFallsBackToWildcardWhenOwnTagRulesDoNotMatch")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({tcp(kTag, 80), tcp(0, 8080)})
                    .passes(WT_REASON_ALLOW_WILDCARD));
    t.push_back(Case(F + "TcpAllowedByAnyPortRule")
                    .send(incoming(f).tcp(40000, 12345))
                    .with_rules({all_ports(kTag, Protocol::Tcp)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpAllowedByAnyProtocolRule")
                    .send(incoming(f).tcp(40000, 12345))
                    .with_rules({any_proto(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpNotAllowedByUdpRuleOnSamePort")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({udp(kTag, 8080)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpAllowedByAnyProtocolPortRangeRule")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({{kTag, Protocol::Any, PortRange{8000, 8100}}})
                    .passes(WT_REASON_ALLOW_RULE));
    // UDP
    t.push_back(Case(F + "UdpAllowedByExactPortRule")
                    .send(incoming(f).udp(40000, 53))
                    .with_rules({udp(kTag, 53)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "UdpToAnotherPortIsDropped")
                    .send(incoming(f).udp(40000, 54))
                    .with_rules({udp(kTag, 53)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UdpFromAnotherTagIsDropped")
                    .send(incoming(f).udp(40000, 53))
                    .with_mark(kOtherTag)
                    .with_rules({udp(kTag, 53)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UdpAllowedByWildcardSource")
                    .send(incoming(f).udp(40000, 53))
                    .with_mark(kOtherTag)
                    .with_rules({udp(0, 53)})
                    .passes(WT_REASON_ALLOW_WILDCARD));
    t.push_back(Case(F + "UdpAllowedByAnyPortRule")
                    .send(incoming(f).udp(40000, 5353))
                    .with_rules({all_ports(kTag, Protocol::Udp)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "UdpAllowedByAnyProtocolRule")
                    .send(incoming(f).udp(40000, 5353))
                    .with_rules({any_proto(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "UdpNotAllowedByTcpAnyPortRule")
                    .send(incoming(f).udp(40000, 53))
                    .with_rules({all_ports(kTag, Protocol::Tcp)})
                    .drops(WT_REASON_DROP_POLICY));
    // ICMP / ICMPv6
    t.push_back(Case(F + "IcmpEchoAllowedByIcmpRule")
                    .send(incoming(f).icmp_echo_request(77))
                    .with_rules({icmp(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "IcmpEchoWithoutIcmpRuleIsDropped")
                    .send(incoming(f).icmp_echo_request(77))
                    .with_rules({tcp(kTag, 8080)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "IcmpEchoAllowedByWildcardSource")
                    .send(incoming(f).icmp_echo_request(77))
                    .with_mark(kOtherTag)
                    .with_rules({icmp(0)})
                    .passes(WT_REASON_ALLOW_WILDCARD));
    t.push_back(Case(F + "IcmpEchoAllowedByAnyProtocolRule")
                    .send(incoming(f).icmp_echo_request(77))
                    .with_rules({any_proto(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "IcmpNotAllowedByTcpAndUdpAnyPortRules")
                    .send(incoming(f).icmp_echo_request(77))
                    .with_rules({all_ports(kTag, Protocol::Tcp), all_ports(kTag, Protocol::Udp)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "IcmpRuleDoesNotAllowTcp")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({icmp(kTag)})
                    .drops(WT_REASON_DROP_POLICY));
    // Other protocols: only an any-protocol rule admits them.
    t.push_back(Case(F + "SctpAllowedByAnyProtocolRule")
                    .send(incoming(f).raw_l4(132, 12))
                    .with_rules({any_proto(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "SctpNotAllowedByPortRules")
                    .send(incoming(f).raw_l4(132, 12))
                    .with_rules({all_ports(kTag, Protocol::Tcp), all_ports(kTag, Protocol::Udp),
                                 icmp(kTag)})
                    .drops(WT_REASON_DROP_POLICY));
  }
}

// Range edges start-1, start, end, end+1, through the prefix decomposition.
void add_port_ranges(std::vector<Case>& t) {
  struct Edge {
    uint16_t port;
    bool allowed;
  };
  struct RangeCase {
    const char* name;
    uint16_t lo, hi;
    std::vector<Edge> edges;
  };
  const RangeCase ranges[] = {
      {"Range1000To2000",
       1000,
       2000,
       {{999, false},
        {1000, true},
        {1500, true},
        {2000, true},
        {2001, false},
        {1024, true},
        {1023, true}}},
      {"Range1To65535", 1, 65535, {{1, true}, {2, true}, {65534, true}, {65535, true}}},
      {"Range1To65534", 1, 65534, {{1, true}, {65534, true}, {65535, false}, {32768, true}}},
      {"Range2To65535", 2, 65535, {{1, false}, {2, true}, {65535, true}}},
      {"Range32767To32768",
       32767,
       32768,
       {{32766, false}, {32767, true}, {32768, true}, {32769, false}}},
      {"Range65535To65535", 65535, 65535, {{65534, false}, {65535, true}}},
      {"Range1To1", 1, 1, {{1, true}, {2, false}}},
  };
  for (const Family& f : kFamilies) {
    for (const auto& r : ranges) {
      for (const Edge& e : r.edges) {
        for (bool is_tcp : {true, false}) {
          std::string name = std::string(f.name) + (is_tcp ? "Tcp" : "Udp") + r.name + "Port" +
                             std::to_string(e.port) + (e.allowed ? "Passes" : "IsDropped");
          Case c(name);
          PacketBuilder p = incoming(f);
          if (is_tcp) {
            p.tcp(40000, e.port);
            c.with_rules({tcp(kTag, r.lo, r.hi)});
          } else {
            p.udp(40000, e.port);
            c.with_rules({udp(kTag, r.lo, r.hi)});
          }
          c.send(p);
          if (e.allowed)
            c.passes(WT_REASON_ALLOW_RULE);
          else
            c.drops(WT_REASON_DROP_POLICY);
          t.push_back(std::move(c));
        }
      }
    }
    std::string F = f.name;
    // Several ranges of one source: every prefix length they use is looked up.
    t.push_back(Case(F + "TcpSecondOfTwoRangesPasses")
                    .send(incoming(f).tcp(40000, 30001))
                    .with_rules({tcp(kTag, 1000, 2000), tcp(kTag, 30000, 30001), tcp(kTag, 443)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpBetweenTwoRangesIsDropped")
                    .send(incoming(f).tcp(40000, 29999))
                    .with_rules({tcp(kTag, 1000, 2000), tcp(kTag, 30000, 30001), tcp(kTag, 443)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpRangeOfAnotherSourceDoesNotApply")
                    .send(incoming(f).tcp(40000, 1500))
                    .with_rules({tcp(kOtherTag, 1000, 2000), tcp(kTag, 443)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpWildcardRangeEdgePasses")
                    .send(incoming(f).tcp(40000, 2000))
                    .with_mark(kOtherTag)
                    .with_rules({tcp(0, 1000, 2000)})
                    .passes(WT_REASON_ALLOW_WILDCARD));
    t.push_back(Case(F + "TcpWildcardRangeEdgePlusOneIsDropped")
                    .send(incoming(f).tcp(40000, 2001))
                    .with_mark(kOtherTag)
                    .with_rules({tcp(0, 1000, 2000)})
                    .drops(WT_REASON_DROP_POLICY));
  }
}

// Replies to flows the endpoint originated: stamp the request, then enforce the reply.
void add_replies(std::vector<Case>& t) {
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    t.push_back(Case(F + "TcpSynAckReplyToOriginatedFlowPasses")
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(incoming(f).tcp(80, 40000, kTcpSyn | kTcpAck))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "TcpAckReplyToOriginatedFlowPasses")
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(incoming(f).tcp(80, 40000, kTcpAck))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "TcpBareSynFromRemoteIsNeverAReply")
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(incoming(f).tcp(80, 40000, kTcpSyn))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpBareSynFromRemoteFallsThroughToRules")
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(incoming(f).tcp(80, 40000, kTcpSyn))
                    .with_rules({tcp(kTag, 40000)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "TcpReplyFromAnotherPortIsDropped")
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(incoming(f).tcp(81, 40000, kTcpSyn | kTcpAck))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "TcpSynAckWithoutOriginatedFlowIsDropped")
                    .send(incoming(f).tcp(80, 40000, kTcpSyn | kTcpAck))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UdpReplyToOriginatedFlowPasses")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send(incoming(f).udp(53, 5353))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "UdpReplyToAnotherLocalPortIsDropped")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send(incoming(f).udp(53, 5354))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UdpSameDirectionAsOriginatedFlowIsNotAReply")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send(incoming(f).udp(5353, 53))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "IcmpEchoReplyToOriginatedEchoPasses")
                    .after(Program::Stamp, outgoing(f).icmp_echo_request(77))
                    .send(incoming(f).icmp_echo_reply(77))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "IcmpEchoReplyWithAnotherIdentifierIsDropped")
                    .after(Program::Stamp, outgoing(f).icmp_echo_request(77))
                    .send(incoming(f).icmp_echo_reply(78))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "IcmpEchoRequestMatchingOriginatedEchoIsNotAReply")
                    .after(Program::Stamp, outgoing(f).icmp_echo_request(77))
                    .send(incoming(f).icmp_echo_request(77))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "EchoReplySentByEndpointOpensNoFlow")
                    .after(Program::Stamp, outgoing(f).icmp_echo_reply(77))
                    .send(incoming(f).icmp_echo_reply(77))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UntaggedReplyPassesEvenWhenUntaggedIsDenied")
                    .on(untagged_denied())
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send(incoming(f).udp(53, 5353))
                    .with_mark(0)
                    .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "ReplyFromAnotherRemoteAddressIsDropped")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send((f.v6 ? PacketBuilder::ipv6("2001:2::1:2", kLocal6)
                                : PacketBuilder::ipv4("198.18.1.2", kLocal4))
                              .udp(53, 5353))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
  }
}

// What an ICMP error quotes of the packet that caused it: its IP header and the first
// `l4_bytes` bytes after it (RFC 792 guarantees 8).
std::vector<uint8_t> quote(const PacketBuilder& original, size_t l4_bytes = 8) {
  std::vector<uint8_t> frame = original.build();
  const bool v6 = frame[12] == 0x86;
  const size_t ip_header = v6 ? 40 : (frame[14] & 0x0f) * 4;
  const size_t n = std::min(frame.size(), 14 + ip_header + l4_bytes);
  return {frame.begin() + 14, frame.begin() + static_cast<std::ptrdiff_t>(n)};
}

struct IcmpError {
  const char* name;
  uint8_t v4_type, v4_code, v6_type, v6_code;
};
constexpr IcmpError kPortUnreachable{"PortUnreachable", 3, 3, 1, 4};
constexpr IcmpError kTooBig{"FragNeeded", 3, 4, 2, 0};  // IPv6: packet too big
constexpr IcmpError kTimeExceeded{"TimeExceeded", 11, 0, 3, 0};
constexpr IcmpError kParameterProblem{"ParameterProblem", 12, 0, 4, 0};

// An ICMP error sent to the endpoint by `from` (the remote unless given), carrying `quoted`.
PacketBuilder icmp_error_quoting(const Family& f, const IcmpError& e, std::vector<uint8_t> quoted,
                                 const char* from = nullptr) {
  PacketBuilder p = f.v6 ? PacketBuilder::ipv6(from ? from : kRemote6, kLocal6)
                         : PacketBuilder::ipv4(from ? from : kRemote4, kLocal4);
  p.icmp(f.v6 ? e.v6_type : e.v4_type, f.v6 ? e.v6_code : e.v4_code).payload(std::move(quoted));
  return p;
}

// The same, quoting `original` as a router or host would.
PacketBuilder icmp_error(const Family& f, const IcmpError& e, const PacketBuilder& original,
                         size_t l4_bytes = 8, const char* from = nullptr) {
  return icmp_error_quoting(f, e, quote(original, l4_bytes), from);
}

// ICMP errors about a flow the endpoint originated are replies to it (related.h): path MTU
// discovery and port unreachable work whatever the rules say of ICMP; any other is not one.
void add_icmp_errors(std::vector<Case>& t) {
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    // A router on the path: another source than the flow's remote, untagged or not.
    const char* router = f.v6 ? "2001:2::ff" : "198.18.0.254";
    for (const IcmpError& e : {kPortUnreachable, kTooBig, kTimeExceeded, kParameterProblem}) {
      t.push_back(Case(F + e.name + "AboutOriginatedUdpFlowPasses")
                      .after(Program::Stamp, outgoing(f).udp(5353, 53))
                      .send(icmp_error(f, e, outgoing(f).udp(5353, 53)))
                      .with_mark(kOtherTag)
                      .passes(WT_REASON_ALLOW_REPLY));
      t.push_back(Case(F + e.name + "AboutOriginatedTcpFlowPasses")
                      .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                      .send(icmp_error(f, e, outgoing(f).tcp(40000, 80, kTcpAck), 8, router))
                      .with_mark(kOtherTag)
                      .passes(WT_REASON_ALLOW_REPLY));
    }
    t.push_back(Case(F + "TimeExceededAboutOriginatedEchoPasses")
                    .after(Program::Stamp, outgoing(f).icmp_echo_request(77))
                    .send(icmp_error(f, kTimeExceeded, outgoing(f).icmp_echo_request(77), 8,
                                     router))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_REPLY));
    if (f.v6)  // the quote of a BIG TCP packet starts with its jumbo hop-by-hop header
      t.push_back(Case(F + "TooBigQuotingABigTcpPacketPasses")
                      .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                      .send(icmp_error(f, kTooBig, outgoing(f).jumbo().tcp(40000, 80, kTcpAck),
                                       8 + 8, router))
                      .with_mark(kOtherTag)
                      .passes(WT_REASON_ALLOW_REPLY));
    t.push_back(Case(F + "UntaggedFragNeededPassesEvenWhenUntaggedIsDenied")
                    .on(untagged_denied())
                    .after(Program::Stamp, outgoing(f).tcp(40000, 80, kTcpSyn))
                    .send(icmp_error(f, kTooBig, outgoing(f).tcp(40000, 80, kTcpAck), 8, router))
                    .with_mark(0)
                    .passes(WT_REASON_ALLOW_REPLY));
    // Not about a flow of this endpoint: the rules decide, as for any ICMP.
    t.push_back(Case(F + "IcmpErrorWithoutOriginatedFlowIsDropped")
                    .send(icmp_error(f, kPortUnreachable, outgoing(f).udp(5353, 53)))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    // After the endpoint sent udp 5353 -> 53, quotes that are not of that flow.
    std::vector<uint8_t> half_header = quote(outgoing(f).udp(5353, 53));
    half_header.resize(f.v6 ? 30 : 12);
    const std::pair<const char*, std::vector<uint8_t>> not_the_flow[] = {
        {"AboutAnotherLocalPort", quote(outgoing(f).udp(5354, 53))},
        {"AboutAnotherRemotePort", quote(outgoing(f).udp(5353, 54))},
        {"AboutAnotherProtocol", quote(outgoing(f).tcp(5353, 53, kTcpAck))},
        // A packet the endpoint received (the remote's own flow, turned around).
        {"QuotingAPacketToTheEndpoint", quote(incoming(f).udp(53, 5353))},
        {"QuotingAnotherSourceAddress",
         quote((f.v6 ? PacketBuilder::ipv6("2001:2::3", kRemote6)
                     : PacketBuilder::ipv4("198.18.0.3", kRemote4))
                   .udp(5353, 53))},
        {"QuotingNoPorts", quote(outgoing(f).udp(5353, 53), 0)},
        {"QuotingATruncatedHeader", half_header},
    };
    for (const auto& [what, quoted] : not_the_flow)
      t.push_back(Case(F + "IcmpError" + what + "IsDropped")
                      .after(Program::Stamp, outgoing(f).udp(5353, 53))
                      .send(icmp_error_quoting(f, kPortUnreachable, quoted))
                      .with_mark(kOtherTag)
                      .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "EchoReplyQuotedInAnErrorIsNotAFlow")
                    .after(Program::Stamp, outgoing(f).icmp_echo_request(77))
                    .send(icmp_error(f, kTimeExceeded, outgoing(f).icmp_echo_reply(77)))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    // Quoting ICMP types that are not errors (IPv4 redirect; ICMPv6 node information query,
    // 139: 137, the IPv6 redirect, is neighbour discovery and passes as such).
    t.push_back(Case(F + "IcmpNonErrorQuotingAnOriginatedFlowIsNotAReply")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .send(icmp_error(f, {"Other", 5, 1, 139, 0}, outgoing(f).udp(5353, 53)))
                    .with_mark(kOtherTag)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "UnrelatedIcmpErrorAllowedByAnIcmpRulePasses")
                    .send(icmp_error(f, kPortUnreachable, outgoing(f).udp(5353, 53)))
                    .with_mark(kTag)
                    .with_rules({icmp(kTag)})
                    .passes(WT_REASON_ALLOW_RULE));
  }
}

// Untagged traffic, tag masking, audit and bypass modes, endpoint presence.
void add_tags_and_modes(std::vector<Case>& t) {
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    t.push_back(Case(F + "UntaggedPassesWhenEndpointAllowsUntagged")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0)
                    .passes(WT_REASON_ALLOW_UNTAGGED));
    t.push_back(Case(F + "UntaggedIsDroppedWhenEndpointDeniesUntagged")
                    .on(untagged_denied())
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0)
                    .drops(WT_REASON_DROP_UNTAGGED));
    t.push_back(Case(F + "WildcardRuleDoesNotAdmitUntagged")
                    .on(untagged_denied())
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0)
                    .with_rules({any_proto(0)})
                    .drops(WT_REASON_DROP_UNTAGGED));
    t.push_back(Case(F + "MarkBitsAboveTagMaskAreIgnored")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0x10005)
                    .with_rules({tcp(kTag, 8080)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "MarkWithOnlyHighBitsIsUntagged")
                    .on(untagged_denied())
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0xabc0000)
                    .with_rules({tcp(kTag, 8080)})
                    .drops(WT_REASON_DROP_UNTAGGED));
    t.push_back(Case(F + "TagIsNotTruncatedToAByte")
                    .send(incoming(f).tcp(40000, 8080))
                    .with_mark(0x105)
                    .with_rules({tcp(kTag, 8080)})
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "AuditModePassesWouldDropWithDropReason")
                    .on(endpoint_mode(WT_MODE_AUDIT))
                    .send(incoming(f).tcp(40000, 8081))
                    .with_rules({tcp(kTag, 8080)})
                    .audits(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "AuditModeCountsAllowedAsAllowed")
                    .on(endpoint_mode(WT_MODE_AUDIT))
                    .send(incoming(f).tcp(40000, 8080))
                    .with_rules({tcp(kTag, 8080)})
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "AuditModePassesMalformedWithItsReason")
                    .on(endpoint_mode(WT_MODE_AUDIT))
                    .send(incoming(f).tcp(40000, 8080).total_length(1400))
                    .audits(WT_REASON_DROP_L3_TRUNCATED));
    t.push_back(Case(F + "BypassModePassesDenied")
                    .on(endpoint_mode(WT_MODE_BYPASS))
                    .send(incoming(f).tcp(40000, 8081))
                    .with_rules({tcp(kTag, 8080)})
                    .passes(WT_REASON_ALLOW_BYPASS));
    t.push_back(Case(F + "BypassModePassesMalformed")
                    .on(endpoint_mode(WT_MODE_BYPASS))
                    .send(incoming(f).tcp(40000, 8080).total_length(1400))
                    .passes(WT_REASON_ALLOW_BYPASS));
    t.push_back(Case(F + "BypassModePassesUntaggedWhenDenied")
                    .on([] {
                      auto e = untagged_denied();
                      e.mode = WT_MODE_BYPASS;
                      return e;
                    }())
                    .send(incoming(f).udp(40000, 53))
                    .with_mark(0)
                    .passes(WT_REASON_ALLOW_BYPASS));
    t.push_back(Case(F + "NoEndpointConfigIsDropped")
                    .on(no_endpoint())
                    .send(incoming(f).tcp(40000, 8080))
                    .drops(WT_REASON_DROP_NO_ENDPOINT));
  }
}

// Malformed and truncated packets at every layer, IPv4 options, TCP data offset.
void add_malformed(std::vector<Case>& t) {
  const std::vector<Rule> web = {tcp(kTag, 8080), udp(kTag, 53), icmp(kTag)};
  auto v4 = [] { return PacketBuilder::ipv4(kRemote4, kLocal4); };
  auto v6 = [] { return PacketBuilder::ipv6(kRemote6, kLocal6); };

  t.push_back(Case("Ipv4HeaderTruncatedIsDropped")
                  .send(v4().tcp(40000, 8080).truncate(14 + 19))
                  .with_rules(web)
                  .kernel_may_refuse()
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv4HeaderOfOneByteIsDropped")
                  .send(v4().tcp(40000, 8080).truncate(15))
                  .with_rules(web)
                  .kernel_may_refuse()
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("EthernetHeaderAloneIsDroppedAsL3Truncated")
                  .send(v4().tcp(40000, 8080).truncate(14))
                  .with_rules(web)
                  .kernel_may_refuse()
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv6HeaderTruncatedIsDropped")
                  .send(v6().tcp(40000, 8080).truncate(14 + 39))
                  .with_rules(web)
                  .kernel_may_refuse()
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv4TotalLengthBeyondFrameIsDropped")
                  .send(v4().tcp(40000, 8080).total_length(41))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv4FrameCutInsideTcpIsDropped")
                  .send(v4().tcp(40000, 8080).truncate(14 + 20 + 12))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv4TotalLengthBelowHeaderLengthIsDropped")
                  .send(v4().tcp(40000, 8080).total_length(19))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv6PayloadLengthBeyondFrameIsDropped")
                  .send(v6().tcp(40000, 8080).total_length(21))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  t.push_back(Case("Ipv4WithEthernetPaddingPasses")
                  .send(v4().tcp(40000, 8080).payload(6).total_length(40))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv4PaddingDoesNotCountAsTcpHeader")
                  .send(v4().tcp(40000, 8080).payload(20).total_length(30))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L4_TRUNCATED));
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    t.push_back(Case(F + "TcpHeaderTruncatedIsDropped")
                    .send(incoming(f).tcp(40000, 8080).l4_truncate(19))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "TcpHeaderOfFourBytesIsDropped")
                    .send(incoming(f).tcp(40000, 8080).l4_truncate(4))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "UdpHeaderTruncatedIsDropped")
                    .send(incoming(f).udp(40000, 53).l4_truncate(7))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "IcmpHeaderTruncatedIsDropped")
                    .send(incoming(f).icmp_echo_request(77).l4_truncate(7))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "EmptyTcpIsDropped")
                    .send(incoming(f).tcp(40000, 8080).l4_truncate(0))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "TcpDataOffsetBelowFiveIsDropped")
                    .send(incoming(f).tcp(40000, 8080, kTcpSyn, 4))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_TCP_DOFF));
    t.push_back(Case(F + "TcpDataOffsetZeroIsDropped")
                    .send(incoming(f).tcp(40000, 8080, kTcpSyn, 0))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_TCP_DOFF));
    t.push_back(Case(F + "TcpDataOffsetPastPacketEndIsDropped")
                    .send(incoming(f).tcp(40000, 8080, kTcpSyn, 15).l4_truncate(20))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_TCP_DOFF));
    t.push_back(Case(F + "TcpDataOffsetOneWordPastEndIsDropped")
                    .send(incoming(f).tcp(40000, 8080, kTcpSyn, 6).l4_truncate(20))
                    .with_rules(web)
                    .drops(WT_REASON_DROP_TCP_DOFF));
    t.push_back(Case(F + "TcpMaximumDataOffsetWithOptionsPasses")
                    .send(incoming(f).tcp(40000, 8080, kTcpSyn, 15))
                    .with_rules(web)
                    .passes(WT_REASON_ALLOW_RULE));
  }
  t.push_back(Case("Ipv4IhlBelowFiveIsDropped")
                  .send(v4().tcp(40000, 8080).ihl(4))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_IPV4_IHL));
  t.push_back(Case("Ipv4IhlZeroIsDropped")
                  .send(v4().tcp(40000, 8080).ihl(0))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_IPV4_IHL));
  t.push_back(Case("Ipv4WrongVersionIsDropped")
                  .send(v4().tcp(40000, 8080).ip_version(6))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_IPV4_IHL));
  t.push_back(Case("Ipv6WrongVersionIsDropped")
                  .send(v6().tcp(40000, 8080).ip_version(4))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_IPV6_VERSION));
  t.push_back(Case("Ipv4IhlBeyondTotalLengthIsDropped")
                  .send(v4().tcp(40000, 8080).ihl(15))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L3_TRUNCATED));
  // Options bytes spell dport 8080 where the TCP header would be without them.
  const std::vector<uint8_t> decoy = {0x01, 0x01, 0x1f, 0x90};
  t.push_back(Case("Ipv4WithOptionsAllowedByPortsAfterOptions")
                  .send(v4().ip_options(decoy).tcp(40000, 8080))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv4WithOptionsDeniedByPortsAfterOptions")
                  .send(v4().ip_options(decoy).tcp(40000, 8081))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  t.push_back(Case("Ipv4WithFortyBytesOfOptionsPasses")
                  .send(v4().ip_options(std::vector<uint8_t>(40, 0x01)).udp(40000, 53))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv4WithOptionsAndTruncatedUdpIsDropped")
                  .send(v4().ip_options(decoy).udp(40000, 53).l4_truncate(6))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L4_TRUNCATED));
  t.push_back(Case("Ipv4WithDontFragmentIsNotAFragment")
                  .send(v4().dont_fragment().tcp(40000, 8080))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv4WithDontFragmentDeniedByPort")
                  .send(v4().dont_fragment().tcp(40000, 8081))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  t.push_back(Case("ArpPasses")
                  .on(untagged_denied())
                  .send(PacketBuilder::arp_request(kRemote4, kLocal4))
                  .with_mark(0)
                  .passes(WT_REASON_ALLOW_ARP));
  t.push_back(Case("TaggedArpPassesWithoutRules")
                  .send(PacketBuilder::arp_request(kRemote4, kLocal4))
                  .passes(WT_REASON_ALLOW_ARP));
  t.push_back(Case("UnknownEthertypeIsDropped")
                  .send(PacketBuilder::ethernet(0x88cc, 46))
                  .with_rules({any_proto(kTag)})
                  .drops(WT_REASON_DROP_L3_UNKNOWN));
  t.push_back(Case("UntaggedUnknownEthertypeIsDropped")
                  .send(PacketBuilder::ethernet(0x88b5, 46))
                  .with_mark(0)
                  .drops(WT_REASON_DROP_L3_UNKNOWN));
  t.push_back(Case("Ipv4ProtocolNumberOfIcmpv6IsNotNeighbourDiscovery")
                  .send(v4().icmp(135).ip_protocol(58))
                  .with_rules({tcp(kTag, 8080)})
                  .drops(WT_REASON_DROP_POLICY));
}

// IPv6 extension header chains and neighbour discovery.
void add_ipv6_chains(std::vector<Case>& t) {
  const std::vector<Rule> web = {tcp(kTag, 8080)};
  const uint8_t chain[] = {kIpv6HopByHop, kIpv6DestOpts, kIpv6Routing, kIpv6DestOpts,
                           kIpv6Routing,  kIpv6DestOpts, kIpv6DestOpts};
  auto v6 = [] { return PacketBuilder::ipv6(kRemote6, kLocal6); };
  for (int n = 0; n <= WT_MAX_EXTHDRS + 1; ++n) {
    PacketBuilder p = v6();
    for (int i = 0; i < n; ++i) p.ext_header(chain[i % 7], i == 1 ? 24 : 8);
    PacketBuilder denied = p;
    p.tcp(40000, 8080);
    denied.tcp(40000, 8081);
    std::string name = "Ipv6With" + std::to_string(n) + "ExtensionHeaders";
    if (n <= WT_MAX_EXTHDRS) {
      t.push_back(Case(name + "Passes").send(p).with_rules(web).passes(WT_REASON_ALLOW_RULE));
      t.push_back(
          Case(name + "DeniedByPort").send(denied).with_rules(web).drops(WT_REASON_DROP_POLICY));
    } else {
      t.push_back(
          Case(name + "IsDropped").send(p).with_rules(web).drops(WT_REASON_DROP_EXTHDR_LIMIT));
      t.push_back(Case(name + "IsDroppedEvenWithAnyProtocolRule")
                      .send(p)
                      .with_rules({any_proto(kTag)})
                      .drops(WT_REASON_DROP_EXTHDR_LIMIT));
    }
  }
  // Every kind of extension header the parser walks, at the limit: AH counts in 4-byte
  // words, an atomic fragment header (offset 0, no more fragments) is not a fragment.
  t.push_back(Case("Ipv6WithEveryExtensionHeaderKindPasses")
                  .send(v6().ext_header(kIpv6HopByHop)
                            .ext_header(kIpv6DestOpts, 16)
                            .ext_header(kIpv6Routing, 24)
                            .fragment(0, false, 1)
                            .ext_header(kIpv6Auth, 24)
                            .ext_header(kIpv6DestOpts)
                            .tcp(40000, 8080))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv6WithEveryExtensionHeaderKindDeniedByPort")
                  .send(v6().ext_header(kIpv6HopByHop)
                            .ext_header(kIpv6DestOpts, 16)
                            .ext_header(kIpv6Routing, 24)
                            .fragment(0, false, 1)
                            .ext_header(kIpv6Auth, 24)
                            .ext_header(kIpv6DestOpts)
                            .tcp(40000, 8081))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  // L4 headers far into the packet (past the parser's direct-read window) parse the same.
  t.push_back(Case("Ipv6TcpBehindALargeExtensionHeaderPasses")
                  .send(v6().ext_header(kIpv6DestOpts, 2048).tcp(40000, 8080))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv6TcpBehindALargeExtensionHeaderDeniedByPort")
                  .send(v6().ext_header(kIpv6HopByHop, 512).tcp(40000, 8081))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  t.push_back(Case("Ipv6TcpStraddlingTheDirectReadWindowPasses")
                  .send(v6().ext_header(kIpv6DestOpts, 456).tcp(40000, 8080))
                  .with_rules(web)
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv6SixLargeExtensionHeadersPass")
                  .send(v6().ext_header(kIpv6HopByHop, 2048)
                            .ext_header(kIpv6DestOpts, 256)
                            .ext_header(kIpv6Routing, 256)
                            .ext_header(kIpv6DestOpts, 256)
                            .ext_header(kIpv6Routing, 256)
                            .ext_header(kIpv6DestOpts, 256)
                            .udp(40000, 53))
                  .with_rules({udp(kTag, 53)})
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv6LargeExtensionHeaderThenTruncatedTcpIsDropped")
                  .send(v6().ext_header(kIpv6DestOpts, 1024).tcp(40000, 8080).l4_truncate(12))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L4_TRUNCATED));
  t.push_back(Case("Ipv6AuthHeaderLengthIsInFourByteWords")
                  .send(v6().ext_header(kIpv6Auth, 16).udp(40000, 8080))
                  .with_rules({udp(kTag, 8080)})
                  .passes(WT_REASON_ALLOW_RULE));
  t.push_back(Case("Ipv6ExtensionHeaderCutShortIsDropped")
                  .send(v6().ext_header(kIpv6HopByHop)
                            .tcp(40000, 8080)
                            .l4_truncate(0)
                            .total_length(4)
                            .truncate(14 + 40 + 4))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_EXTHDR_BAD));
  t.push_back(Case("Ipv6ExtensionHeaderLongerThanPayloadIsDropped")
                  .send(v6().ext_header(kIpv6DestOpts, 16)
                            .tcp(40000, 8080)
                            .total_length(8)
                            .truncate(14 + 40 + 8))
                  .with_rules({any_proto(kTag)})
                  .drops(WT_REASON_DROP_EXTHDR_BAD));
  t.push_back(Case("Ipv6SecondExtensionHeaderCutShortIsDropped")
                  .send(v6().ext_header(kIpv6HopByHop)
                            .ext_header(kIpv6DestOpts)
                            .tcp(40000, 8080)
                            .total_length(12)
                            .truncate(14 + 40 + 12))
                  .with_rules({any_proto(kTag)})
                  .drops(WT_REASON_DROP_EXTHDR_BAD));
  t.push_back(Case("Ipv6ExtensionHeaderThenTruncatedTcpIsDropped")
                  .send(v6().ext_header(kIpv6HopByHop).tcp(40000, 8080).l4_truncate(10))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_L4_TRUNCATED));
  t.push_back(Case("Ipv6NoNextHeaderIsDropped")
                  .send(v6().raw_l4(59, 0))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  // Neighbour discovery and MLD pass whatever the tag and rules.
  const std::pair<const char*, uint8_t> ndp[] = {{"NeighbourSolicitation", 135},
                                                 {"NeighbourAdvertisement", 136},
                                                 {"RouterAdvertisement", 134},
                                                 {"RouterSolicitation", 133},
                                                 {"Redirect", 137},
                                                 {"MldQuery", 130},
                                                 {"Mldv2Report", 143}};
  for (const auto& [name, type] : ndp) {
    t.push_back(Case(std::string("Ipv6") + name + "PassesUntagged")
                    .on(untagged_denied())
                    .send(v6().icmp(type))
                    .with_mark(0)
                    .passes(WT_REASON_ALLOW_NDP));
  }
  // MLD reports carry a Hop-by-Hop header (Router Alert) before the ICMPv6 header.
  t.push_back(Case("Ipv6MldReportBehindHopByHopPassesUntagged")
                  .on(untagged_denied())
                  .send(v6().ext_header(kIpv6HopByHop).icmp(143))
                  .with_mark(0)
                  .passes(WT_REASON_ALLOW_NDP));
  t.push_back(Case("Ipv6NeighbourSolicitationPassesFromTagWithoutRules")
                  .send(v6().icmp(135))
                  .passes(WT_REASON_ALLOW_NDP));
  t.push_back(Case("Icmpv6EchoIsNotNeighbourDiscovery")
                  .on(untagged_denied())
                  .send(v6().icmp_echo_request(1))
                  .with_mark(0)
                  .drops(WT_REASON_DROP_UNTAGGED));
  t.push_back(Case("Icmpv6DestinationUnreachableNeedsARule")
                  .send(v6().icmp(1, 4))
                  .with_rules(web)
                  .drops(WT_REASON_DROP_POLICY));
  t.push_back(Case("Icmpv6NeighbourSolicitationCutShortIsDropped")
                  .on(untagged_denied())
                  .send(v6().icmp(135).l4_truncate(6))
                  .with_mark(0)
                  .drops(WT_REASON_DROP_L4_TRUNCATED));
}

// Fragments: the first is judged by its ports; later ones pass only after an allowed first.
void add_fragments(std::vector<Case>& t) {
  for (const Family& f : kFamilies) {
    std::string F = f.name;
    const std::vector<Rule> dns = {udp(kTag, 53)};
    auto first = [&](uint16_t dport, uint32_t id) {
      return incoming(f).fragment(0, true, id).udp(40000, dport).payload(16);
    };
    auto later = [&](uint32_t id) { return incoming(f).fragment(3, false, id).raw_l4(17, 24); };
    auto middle = [&](uint32_t id) { return incoming(f).fragment(3, true, id).raw_l4(17, 24); };

    t.push_back(Case(F + "FirstFragmentAllowedByPorts")
                    .send(first(53, 4242))
                    .with_rules(dns)
                    .passes(WT_REASON_ALLOW_RULE));
    t.push_back(Case(F + "FirstFragmentDeniedByPorts")
                    .send(first(54, 4242))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_POLICY));
    t.push_back(Case(F + "LaterFragmentAloneIsDropped")
                    .send(later(4242))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentAloneIsDroppedEvenWithAnyProtocolRule")
                    .send(later(4242))
                    .with_rules({any_proto(kTag)})
                    .drops(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentOfAllowedFirstPasses")
                    .after(Program::Enforce, first(53, 4242), kTag)
                    .send(later(4242))
                    .with_rules(dns)
                    .passes(WT_REASON_ALLOW_FRAGMENT));
    t.push_back(Case(F + "MiddleFragmentOfAllowedFirstPasses")
                    .after(Program::Enforce, first(53, 4242), kTag)
                    .send(middle(4242))
                    .with_rules(dns)
                    .passes(WT_REASON_ALLOW_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentOfDeniedFirstIsDropped")
                    .after(Program::Enforce, first(54, 4242), kTag)
                    .send(later(4242))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentOfAnotherDatagramIsDropped")
                    .after(Program::Enforce, first(53, 4242), kTag)
                    .send(later(4243))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentFromAnotherSourceAddressIsDropped")
                    .after(Program::Enforce, first(53, 4242), kTag)
                    .send((f.v6 ? PacketBuilder::ipv6("2001:2::1:2", kLocal6)
                                : PacketBuilder::ipv4("198.18.1.2", kLocal4))
                              .fragment(3, false, 4242)
                              .raw_l4(17, 24))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentOfAuditedWouldDropIsAuditedToo")
                    .on(endpoint_mode(WT_MODE_AUDIT))
                    .after(Program::Enforce, first(54, 4242), kTag)
                    .send(later(4242))
                    .with_rules(dns)
                    .audits(WT_REASON_DROP_FRAGMENT));
    t.push_back(Case(F + "LaterFragmentOfReplyPasses")
                    .after(Program::Stamp, outgoing(f).udp(5353, 53))
                    .after(Program::Enforce,
                           incoming(f).fragment(0, true, 99).udp(53, 5353).payload(16), kOtherTag)
                    .send(later(99))
                    .with_mark(kOtherTag)
                    .passes(WT_REASON_ALLOW_FRAGMENT));
    t.push_back(Case(F + "FirstFragmentWithTruncatedUdpIsDropped")
                    .send(incoming(f).fragment(0, true, 4242).udp(40000, 53).l4_truncate(4))
                    .with_rules(dns)
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
    t.push_back(Case(F + "UnfragmentedWithFragmentIdPassesByPorts")
                    .send(incoming(f).fragment(0, false, 4242).udp(40000, 53))
                    .with_rules(dns)
                    .passes(WT_REASON_ALLOW_RULE));
  }
  // RFC 8200 4.5: headers after the Fragment header are per-fragment; later fragments'
  // Fragment header then names that header (here Destination Options), not UDP.
  t.push_back(Case("Ipv6LaterFragmentWithDestOptsAfterFragmentHeaderPasses")
                  .after(Program::Enforce,
                         PacketBuilder::ipv6(kRemote6, kLocal6)
                             .fragment(0, true, 7)
                             .ext_header(kIpv6DestOpts)
                             .udp(40000, 53)
                             .payload(16),
                         kTag)
                  .send(PacketBuilder::ipv6(kRemote6, kLocal6)
                            .fragment(4, false, 7)
                            .raw_l4(kIpv6DestOpts, 24))
                  .with_rules({udp(kTag, 53)})
                  .passes(WT_REASON_ALLOW_FRAGMENT));
}

// Stamp: the endpoint's tag on everything it sends, anti-spoofing.
void add_stamp(std::vector<Case>& t) {
  EndpointSetup spoof_guarded;
  spoof_guarded.flags = WT_EP_ANTISPOOF_V4 | WT_EP_ANTISPOOF_V6;
  spoof_guarded.ipv4 = kLocal4;
  spoof_guarded.ipv6 = kLocal6;
  EndpointSetup audit_guard = spoof_guarded;
  audit_guard.mode = WT_MODE_AUDIT;
  EndpointSetup v4_only_guard = spoof_guarded;
  v4_only_guard.flags = WT_EP_ANTISPOOF_V4;

  for (const Family& f : kFamilies) {
    std::string F = f.name;
    PacketBuilder spoofed = f.v6 ? PacketBuilder::ipv6("2001:2::3", kRemote6)
                                 : PacketBuilder::ipv4("198.18.0.3", kRemote4);
    t.push_back(Case(F + "StampSetsTheEndpointTag")
                    .through(Program::Stamp)
                    .send(outgoing(f).tcp(40000, 80))
                    .with_mark(0)
                    .passes(WT_REASON_STAMPED)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampOverwritesAnExistingMark")
                    .through(Program::Stamp)
                    .send(outgoing(f).udp(40000, 53))
                    .with_mark(0xdead0005)
                    .passes(WT_REASON_STAMPED)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampPassesTheEndpointsOwnSource")
                    .on(spoof_guarded)
                    .through(Program::Stamp)
                    .send(outgoing(f).tcp(40000, 80))
                    .passes(WT_REASON_STAMPED)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampDropsASpoofedSource")
                    .on(spoof_guarded)
                    .through(Program::Stamp)
                    .send(spoofed.tcp(40000, 80))
                    .drops(WT_REASON_DROP_SPOOFED));
    t.push_back(Case(F + "StampAuditsASpoofedSource")
                    .on(audit_guard)
                    .through(Program::Stamp)
                    .send(spoofed.tcp(40000, 80))
                    .audits(WT_REASON_DROP_SPOOFED)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampWithoutAntiSpoofPassesAnySource")
                    .through(Program::Stamp)
                    .send(spoofed.tcp(40000, 80))
                    .passes(WT_REASON_STAMPED)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampInBypassModeTagsAndPasses")
                    .on([&] {
                      auto e = spoof_guarded;
                      e.mode = WT_MODE_BYPASS;
                      return e;
                    }())
                    .through(Program::Stamp)
                    .send(spoofed.tcp(40000, 80))
                    .passes(WT_REASON_ALLOW_BYPASS)
                    .leaves_mark(kOwnTag));
    t.push_back(Case(F + "StampWithoutEndpointConfigDrops")
                    .on(no_endpoint())
                    .through(Program::Stamp)
                    .send(outgoing(f).tcp(40000, 80))
                    .drops(WT_REASON_DROP_NO_ENDPOINT));
    t.push_back(Case(F + "StampDropsATruncatedPacket")
                    .through(Program::Stamp)
                    .send(outgoing(f).tcp(40000, 80).l4_truncate(8))
                    .drops(WT_REASON_DROP_L4_TRUNCATED));
  }
  t.push_back(Case("StampGuardsOnlyTheConfiguredFamily")
                  .on(v4_only_guard)
                  .through(Program::Stamp)
                  .send(PacketBuilder::ipv6("2001:2::3", kRemote6).udp(40000, 53))
                  .passes(WT_REASON_STAMPED)
                  .leaves_mark(kOwnTag));
  t.push_back(Case("StampPassesDuplicateAddressDetectionFromUnspecifiedSource")
                  .on(spoof_guarded)
                  .through(Program::Stamp)
                  .send(PacketBuilder::ipv6("::", "2001:2::2").icmp(135))
                  .passes(WT_REASON_STAMPED)
                  .leaves_mark(kOwnTag));
  t.push_back(Case("StampDropsSpoofedEchoFromUnspecifiedSource")
                  .on(spoof_guarded)
                  .through(Program::Stamp)
                  .send(PacketBuilder::ipv6("::", kRemote6).icmp_echo_request(1))
                  .drops(WT_REASON_DROP_SPOOFED));
  t.push_back(Case("StampPassesArp")
                  .on(spoof_guarded)
                  .through(Program::Stamp)
                  .send(PacketBuilder::arp_request(kLocal4, kRemote4))
                  .passes(WT_REASON_ALLOW_ARP)
                  .leaves_mark(kOwnTag));
}

std::vector<Case> verdict_table() {
  std::vector<Case> t;
  add_rule_matching(t);
  add_port_ranges(t);
  add_replies(t);
  add_icmp_errors(t);
  add_tags_and_modes(t);
  add_malformed(t);
  add_ipv6_chains(t);
  add_fragments(t);
  add_stamp(t);
  return t;
}

class PacketVerdict : public testing::TestWithParam<Case> {};

TEST_P(PacketVerdict, MatchesTable) {
  const Case& c = GetParam();
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(c.endpoint, c.rules), "");
  for (const Step& s : c.before) {
    int rc = runner->run_action(s.prog, s.packet.build(), s.mark);
    ASSERT_GE(rc, 0) << "preparatory packet: " << std::strerror(-rc);
  }
  Outcome o = runner->run(c.prog, c.packet.build(), c.mark);
  if (c.may_refuse && o.error.find(std::strerror(EINVAL)) != std::string::npos)
    GTEST_SKIP() << "this kernel's BPF_PROG_TEST_RUN refuses an IP frame shorter than its IP "
                    "header, so the programs cannot see it here";
  ASSERT_TRUE(o.error.empty()) << o;
  bool as_expected = o.retval == c.retval && o.reason == c.reason && o.verdict == c.verdict &&
                     o.counter_rows_changed == 1 && (!c.mark_out || o.mark == *c.mark_out);
  // A row with a bug note checks the right behaviour as soon as the bug is fixed.
  if (!c.bug.empty() && !as_expected) GTEST_SKIP() << "BUG: " << c.bug << "; observed " << o;
  EXPECT_EQ(o.retval, c.retval) << o;
  EXPECT_EQ(reason_text(o.reason), reason_text(c.reason)) << o;
  EXPECT_EQ(int(o.verdict), int(c.verdict)) << o;
  EXPECT_EQ(o.counter_rows_changed, 1) << "exactly one counter per packet; " << o;
  EXPECT_EQ(int(o.direction), c.prog == Program::Stamp ? WT_DIR_STAMP : WT_DIR_ENFORCE) << o;
  if (c.mark_out) {
    EXPECT_EQ(o.mark, *c.mark_out) << o;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, PacketVerdict, testing::ValuesIn(verdict_table()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace wiretag::test
