#include "core/reasons.h"

#include <netinet/in.h>

#include "wiretag/abi.h"

namespace wiretag {

// clang-format off
const char* reason_name(uint32_t reason) {
  switch (reason) {
    case WT_REASON_STAMPED: return "stamped";
    case WT_REASON_ALLOW_REPLY: return "allow_reply";
    case WT_REASON_ALLOW_RULE: return "allow_rule";
    case WT_REASON_ALLOW_WILDCARD: return "allow_wildcard";
    case WT_REASON_ALLOW_UNTAGGED: return "allow_untagged";
    case WT_REASON_ALLOW_BYPASS: return "allow_bypass";
    case WT_REASON_ALLOW_ARP: return "allow_arp";
    case WT_REASON_ALLOW_NDP: return "allow_ndp";
    case WT_REASON_ALLOW_FRAGMENT: return "allow_fragment";
    case WT_REASON_DROP_POLICY: return "drop_policy";
    case WT_REASON_DROP_UNTAGGED: return "drop_untagged";
    case WT_REASON_DROP_NO_ENDPOINT: return "drop_no_endpoint";
    case WT_REASON_DROP_L2_TRUNCATED: return "drop_l2_truncated";
    case WT_REASON_DROP_L3_UNKNOWN: return "drop_l3_unknown";
    case WT_REASON_DROP_L3_TRUNCATED: return "drop_l3_truncated";
    case WT_REASON_DROP_IPV4_IHL: return "drop_ipv4_ihl";
    case WT_REASON_DROP_IPV6_VERSION: return "drop_ipv6_version";
    case WT_REASON_DROP_EXTHDR_LIMIT: return "drop_exthdr_limit";
    case WT_REASON_DROP_EXTHDR_BAD: return "drop_exthdr_bad";
    case WT_REASON_DROP_L4_TRUNCATED: return "drop_l4_truncated";
    case WT_REASON_DROP_TCP_DOFF: return "drop_tcp_doff";
    case WT_REASON_DROP_FRAGMENT: return "drop_fragment";
    case WT_REASON_DROP_SPOOFED: return "drop_spoofed";
    case WT_REASON_DROP_UNKNOWN_VTEP: return "drop_unknown_vtep";
    default: return nullptr;
  }
}
// clang-format on

std::string ip_protocol_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return std::to_string(proto);
  }
}

}  // namespace wiretag
