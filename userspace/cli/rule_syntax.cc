#include "cli/rule_syntax.h"

#include <charconv>
#include <vector>

namespace wiretag {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;  // keeps empty fields, trailing ones included
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool parse_uint(const std::string& s, uint64_t max, uint64_t* out) {
  int base = 10;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    b += 2;
  }
  auto [p, ec] = std::from_chars(b, e, *out, base);
  return ec == std::errc() && p == e && b != e && *out <= max;
}

}  // namespace

Result<Rule> parse_rule(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error{"INVALID_RULE",
                 "rule '" + text + "': " + why + " (expected SOURCE_TAG/PROTO[/PORT[-PORT]])"};
  };
  auto parts = split(text, '/');
  if (parts.size() < 2 || parts.size() > 3) return bad("wrong number of fields");
  Rule r;
  uint64_t v;
  if (parts[0] == "*") {
    r.source_tag = 0;
  } else if (!parse_uint(parts[0], 0xffffffff, &v) || v == 0) {
    return bad("source tag must be * or a nonzero number");
  } else {
    r.source_tag = static_cast<uint32_t>(v);
  }
  auto proto = parse_protocol(parts[1]);
  if (!proto) return bad("protocol must be tcp, udp, icmp or any");
  r.protocol = *proto;
  if (parts.size() == 3) {
    auto range = split(parts[2], '-');
    uint64_t lo, hi;
    if (range.empty() || range.size() > 2 || !parse_uint(range[0], 65535, &lo) || lo == 0)
      return bad("port must be 1..65535");
    hi = lo;
    if (range.size() == 2 && (!parse_uint(range[1], 65535, &hi) || hi < lo))
      return bad("port range must be START-END with START <= END");
    r.ports = PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
  }
  return r;
}

std::string format_rule(const Rule& r) {
  std::string s = r.source_tag ? std::to_string(r.source_tag) : "*";
  s += "/" + std::string(to_string(r.protocol));
  if (r.ports) {
    s += "/" + std::to_string(r.ports->start);
    if (r.ports->end != r.ports->start) s += "-" + std::to_string(r.ports->end);
  }
  return s;
}

}  // namespace wiretag
