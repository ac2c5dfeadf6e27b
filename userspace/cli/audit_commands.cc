// `wiretag audit`: the PAP's audit trail, newest first — who deployed, undeployed, created,
// changed or deleted what, and when (PAP API `/policies/audit…`).
#include <chrono>
#include <ctime>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/pap_client.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

// Epoch seconds of a time argument: epoch seconds, a UTC time (2024-05-01T12:00:00Z or
// 2024-05-01), or an age (90s, 15m, 2h, 7d: that long ago).
int64_t epoch_seconds(const std::string& flag, const std::string& v) {
  auto bad = [&]() -> int64_t {
    usage_error(flag + " \"" + v +
                "\": give epoch seconds, a UTC time (2024-05-01T12:00:00Z, 2024-05-01) or an age "
                "(90s, 15m, 2h, 7d)");
  };
  if (v.empty() || v.size() > 20) return bad();
  if (v.find_first_not_of("0123456789") == std::string::npos) return std::stoll(v);
  const std::string digits = v.substr(0, v.size() - 1);
  if (!digits.empty() && digits.size() < 10 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t n = std::stoll(digits);
    const int64_t unit = v.back() == 's'   ? 1
                         : v.back() == 'm' ? 60
                         : v.back() == 'h' ? 3600
                         : v.back() == 'd' ? 86400
                                           : 0;
    if (unit == 0) return bad();
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return std::max<int64_t>(0, now - n * unit);
  }
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) {
    tm = {};
    end = strptime(v.c_str(), "%Y-%m-%d", &tm);
  }
  if (!end || *end) return bad();
  return static_cast<int64_t>(timegm(&tm));
}

Table audit_table(const json& records) {
  Table t{{"time", "action", "group", "subgroup", "policy", "version", "detail", "user"}, {}};
  for (const json& r : records) {
    const json& p = r.contains("policy") ? r["policy"] : json();
    std::vector<std::string> row = {cell(r, "timestamp"), cell(r, "action"), cell(r, "pdpGroup"),
                                    cell(r, "pdpType"),   cell(p, "name"),   cell(p, "version"),
                                    cell(r, "detail"),    cell(r, "user")};
    for (std::string& c : row)
      if (c.empty()) c = "-";
    t.add(std::move(row));
  }
  return t;
}

}  // namespace

void add_audit_commands(CLI::App& app) {
  static std::string group, policy, since, until, limit;
  auto* c = app.add_subcommand(
      "audit",
      "the PAP audit trail, newest first: deployments, undeployments, state changes, group "
      "changes, each with its user");
  c->add_option("--group", group, "only this group's records (also after it was deleted)");
  c->add_option("--policy", policy, "only this policy version's records: POLICY@VERSION");
  c->add_option("--since", since,
                "records at or after: epoch seconds, a UTC time (2024-05-01T12:00:00Z) or an "
                "age (15m, 2h, 7d)");
  c->add_option("--until", until, "records at or before (the same forms)");
  c->add_option("--limit", limit, "at most this many records, 1-100 (default 10)");
  c->callback([] {
    std::string path = "/policies/audit";
    if (!group.empty()) path += "/" + segment(group);
    if (!policy.empty()) {
      const PolicyArg p = parse_policy_arg(policy);
      if (!p.version) usage_error("--policy \"" + policy + "\": give POLICY@VERSION");
      path += "/" + segment(p.name) + "/" + segment(*p.version);
    }
    std::string query;
    auto add = [&](const std::string& key, const std::string& value) {
      query += (query.empty() ? "?" : "&") + key + "=" + query_value(value);
    };
    if (!limit.empty()) add("recordCount", limit);
    if (!since.empty()) add("startTime", std::to_string(epoch_seconds("--since", since)));
    if (!until.empty()) add("endTime", std::to_string(epoch_seconds("--until", until)));
    show(pap_call("GET", path + query), audit_table);
  });
}

}  // namespace wiretag::cli
