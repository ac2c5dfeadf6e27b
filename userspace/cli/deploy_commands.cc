// `wiretag deploy|undeploy|status`: which policy versions the cells of a PDP group enforce
// (PAP API, SPEC §4.4), and whether they hold them yet. POLICY is a PAP policy name
// (`default-whitelist`, or a named policy's id) with an optional @VERSION (N or N.0.0).
#include <algorithm>
#include <chrono>
#include <thread>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/pap_client.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

// The subgroups of `group` to act on: those given, else every one the group has ("tc"
// when the group is unknown, for the server to answer GROUP_NOT_FOUND).
std::vector<std::string> target_subgroups(const json& group,
                                          const std::vector<std::string>& given) {
  if (!given.empty()) return given;
  std::vector<std::string> out;
  if (group.is_object())
    for (const json& s : group.value("pdpSubgroups", json::array()))
      out.push_back(s.value("pdpType", ""));
  if (out.empty()) out.push_back("tc");
  return out;
}

bool holds(const json& subgroup, const PolicyArg& p) {
  for (const json& d : subgroup.value("policies", json::array()))
    if (d.value("name", "") == p.name && (!p.version || d.value("version", "") == *p.version))
      return true;
  return false;
}

json deployment_batch(const std::string& group, const std::vector<std::string>& subgroups,
                      const char* action, const std::vector<PolicyArg>& policies) {
  json refs = json::array();
  for (const PolicyArg& p : policies) refs.push_back(p.ref());
  json subs = json::array();
  for (const std::string& s : subgroups)
    subs.push_back({{"pdpType", s}, {"action", action}, {"policies", refs}});
  return {{"groups", json::array({{{"name", group}, {"deploymentSubgroups", subs}}})}};
}

std::string joined(const std::vector<PolicyArg>& policies) {
  std::string out;
  for (const PolicyArg& p : policies) out += (out.empty() ? "" : " ") + p.text();
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

Table status_table(const json& statuses) {
  Table t{{"group", "subgroup", "cell", "policy", "version", "state", "message"}, {}};
  for (const json& s : statuses) {
    const json policy = s.value("policy", json::object());
    t.add({cell(s, "pdpGroup"), cell(s, "pdpType"), cell(s, "pdpId"), cell(policy, "name"),
           cell(policy, "version"), cell(s, "state"), cell(s, "message")});
  }
  return t;
}

struct StatusQuery {
  std::optional<PolicyArg> policy;
  std::string group;
};

// A PAP status query's list; [] for ONAP's 404 "nothing matched" (POLICY_STATUS_NOT_FOUND),
// while an unknown group or policy stays an error.
json status_list(const std::string& path) {
  ApiAnswer a = server_request(Auth::Pap, "GET", "/policy/pap/v1" + path);
  if (a.status == 404 && a.body.is_array() && !a.body.empty() && a.body[0].is_object() &&
      a.body[0].value("error_code", "") == "POLICY_STATUS_NOT_FOUND")
    return json::array();
  return checked(std::move(a));
}

// GET /policies/status[/GROUP[/POLICY]]; a policy without a group, and a version, are
// filtered here (the PAP has no route for the first, and for a version answers one cell's).
json read_status(const StatusQuery& q) {
  std::string path = "/policies/status";
  if (!q.group.empty()) {
    path += "/" + segment(q.group);
    if (q.policy) path += "/" + segment(q.policy->name);
  }
  json all = status_list(path);
  if (!q.policy) return all;
  json out = json::array();
  for (const json& s : all) {
    const json p = s.value("policy", json::object());
    if (p.value("name", "") == q.policy->name &&
        (!q.policy->version || p.value("version", "") == *q.policy->version))
      out.push_back(s);
  }
  return out;
}

// Whether the policy (version) is deployed to the group (any group when none is named).
bool deployed(const StatusQuery& q) {
  const json pdps = pap_call("GET", "/pdps");
  for (const json& g : pdps.value("groups", json::array())) {
    if (!q.group.empty() && g.value("name", "") != q.group) continue;
    for (const json& s : g.value("pdpSubgroups", json::array()))
      if (!q.policy || holds(s, *q.policy)) return true;
  }
  return false;
}

std::string what(const StatusQuery& q) {
  std::string out = q.policy ? q.policy->text() : std::string("every deployed version");
  if (!q.group.empty()) out += " in group " + q.group;
  return out;
}

// Polls the status until every listed (cell, version) is SUCCESS, one is FAILURE, or the
// timeout passes; prints the last status either way.
void wait_for(const StatusQuery& q, double timeout_seconds) {
  using clock = std::chrono::steady_clock;
  const auto deadline =
      clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  auto interval = std::chrono::milliseconds(200);
  for (;;) {
    const json statuses = read_status(q);
    std::vector<std::string> pending, failed;
    for (const json& s : statuses) {
      const std::string state = s.value("state", "");
      const std::string name = s.value("pdpId", "?") + " (" + state + ")";
      if (state == "FAILURE")
        failed.push_back(s.value("pdpId", "?") + ": " + s.value("message", "failed"));
      else if (state != "SUCCESS")
        pending.push_back(name);
    }
    if (statuses.empty() && q.policy && !deployed(q))
      api_error(Error{"NOT_DEPLOYED", what(q) + ": not deployed, nothing to wait for"});
    if (!failed.empty()) {
      show(statuses, status_table);
      api_error(Error{"DEPLOYMENT_FAILED", what(q) + ": " + joined(failed)});
    }
    if (pending.empty()) {
      if (statuses.empty()) std::fprintf(stderr, "wiretag: no cells hold %s\n", what(q).c_str());
      show(statuses, status_table);
      return;
    }
    const auto now = clock::now();
    if (now >= deadline) {
      show(statuses, status_table);
      api_error(Error{"TIMEOUT", std::to_string(pending.size()) + " of " +
                                     std::to_string(statuses.size()) + " cell(s) do not hold " +
                                     what(q) + " after " + std::to_string(int(timeout_seconds)) +
                                     " s: " + joined(pending)});
    }
    std::this_thread::sleep_for(std::min<clock::duration>(interval, deadline - now));
    interval = std::min(interval * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace

void add_deploy_commands(CLI::App& app) {
  {
    static std::vector<std::string> policies, subgroups;
    static std::string group;
    auto* c = app.add_subcommand(
        "deploy",
        "deploy policy versions to a PDP group (a subgroup holds one version per policy: "
        "another version replaces it)");
    c->add_option("policy", policies,
                  "POLICY[@VERSION]: default-whitelist or a named policy's id; VERSION N or "
                  "N.0.0 (default: the latest)")
        ->required();
    c->add_option("--group", group, "the PDP group")->required();
    c->add_option("--subgroup", subgroups, "only this subgroup (repeatable; default: all)");
    c->callback([] {
      std::vector<PolicyArg> refs;
      for (const std::string& p : policies) refs.push_back(parse_policy_arg(p));
      const auto subs = target_subgroups(find_group(group), subgroups);
      pap_call("POST", "/pdps/deployments/batch", deployment_batch(group, subs, "POST", refs));
      std::printf("deployed %s to group %s (%s); follow with: wiretag status%s --group %s --wait\n",
                  joined(refs).c_str(), group.c_str(), joined(subs).c_str(),
                  refs.size() == 1 ? (" " + refs[0].text()).c_str() : "", group.c_str());
    });
  }
  {
    static std::string policy, group;
    static std::vector<std::string> subgroups;
    auto* c = app.add_subcommand(
        "undeploy",
        "undeploy a policy (every version, or VERSION) from a group, or from every group");
    c->add_option("policy", policy, "POLICY[@VERSION]")->required();
    c->add_option("--group", group, "only from this group (default: every group)");
    c->add_option("--subgroup", subgroups,
                  "only from this subgroup of --group (repeatable; default: those holding it)")
        ->needs(c->get_option("--group"));
    c->callback([] {
      const PolicyArg p = parse_policy_arg(policy);
      if (group.empty()) {
        std::string path = "/pdps/policies/" + segment(p.name);
        if (p.version) path += "/versions/" + segment(*p.version);
        pap_call("DELETE", path);
        std::printf("undeployed %s from every group\n", p.text().c_str());
        return;
      }
      std::vector<std::string> subs = subgroups;
      const json g = find_group(group);
      if (subs.empty() && g.is_object())
        for (const json& s : g.value("pdpSubgroups", json::array()))
          if (holds(s, p)) subs.push_back(s.value("pdpType", ""));
      subs = target_subgroups(g, subs);
      pap_call("POST", "/pdps/deployments/batch", deployment_batch(group, subs, "DELETE", {p}));
      std::printf("undeployed %s from group %s (%s)\n", p.text().c_str(), group.c_str(),
                  joined(subs).c_str());
    });
  }
  {
    static std::string policy, group;
    static bool wait = false;
    static double timeout = 120;
    auto* c = app.add_subcommand(
        "status",
        "deployment state of each (cell, deployed version): WAITING, SUCCESS or FAILURE; "
        "--wait blocks until every cell holds it");
    c->add_option("policy", policy, "POLICY[@VERSION] (default: every deployed policy)");
    c->add_option("--group", group, "only this group");
    c->add_flag("--wait", wait,
                "wait until every cell of the group (also one that stopped reporting) holds "
                "the version; exit 1 on a FAILURE, or after --wait-timeout naming the cells "
                "that do not");
    c->add_option("--wait-timeout", timeout, "seconds --wait waits")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    c->callback([] {
      StatusQuery q;
      if (!policy.empty()) q.policy = parse_policy_arg(policy);
      q.group = group;
      if (q.policy && q.group.empty()) {
        // Unknown policy: 404 POLICY_NOT_FOUND from the PAP, not an empty list.
        std::string path = "/policies/deployed/" + segment(q.policy->name);
        if (q.policy->version) path += "/" + segment(*q.policy->version);
        status_list(path);
      }
      if (wait)
        wait_for(q, timeout);
      else
        show(read_status(q), status_table);
    });
  }
}

}  // namespace wiretag::cli
