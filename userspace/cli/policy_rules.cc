#include "cli/policy_rules.h"

#include <charconv>
#include <vector>

#include "cli/output.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;  // keeps empty fields
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

bool parse_port(const std::string& s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty() && *out >= 1 && *out <= 65535;
}

}  // namespace

Result<json> parse_port_range(const std::string& text) {
  auto range = split(text, '-');
  int lo = 0, hi = 0;
  if (range.size() > 2 || !parse_port(range[0], &lo) ||
      (range.size() == 2 && !parse_port(range[1], &hi)))
    return Error{"INVALID_PORTS", "ports '" + text + "': expected PORT or START-END, each 1-65535"};
  if (range.size() == 1) hi = lo;
  if (hi < lo) return Error{"INVALID_PORTS", "ports '" + text + "': START must not be above END"};
  return json{{"start", lo}, {"end", hi}};
}

Result<json> parse_policy_rule(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error{"INVALID_RULE", "rule '" + text + "': " + why +
                                     " (expected SOURCE/DESTINATION[/PROTO[/PORT[-PORT]]], "
                                     "e.g. web/db/tcp/5432 or '*/db/icmp')"};
  };
  auto f = split(text, '/');
  if (f.size() < 2 || f.size() > 4) return bad("wrong number of fields");
  if (f[0].empty() || f[1].empty()) return bad("source and destination are app guids ('*' source)");
  json rule = {{"source", f[0]}, {"destination", f[1]}};
  if (f.size() >= 3) {
    if (f[2] != "tcp" && f[2] != "udp" && f[2] != "icmp" && f[2] != "any")
      return bad("protocol must be tcp, udp, icmp or any");
    rule["protocol"] = f[2];
  }
  if (f.size() == 4) {
    auto ports = parse_port_range(f[3]);
    if (!ports) return bad("ports must be PORT or START-END, each 1-65535");
    rule["ports"] = *ports;
  }
  return rule;
}

std::string ports_text(const json& rule) {
  if (!rule.is_object() || !rule.contains("ports") || !rule["ports"].is_object()) return "all";
  const json& p = rule["ports"];
  const std::string start = cell(p, "start"), end = cell(p, "end");
  return start == end ? start : start + "-" + end;
}

std::string rule_text(const json& rule) {
  std::string proto = rule.value("protocol", std::string("any"));
  if (rule.contains("ports")) return proto + "/" + ports_text(rule);
  return proto;
}

}  // namespace wiretag::cli
