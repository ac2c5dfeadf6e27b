#include "agent/event_naming.h"

#include <arpa/inet.h>
#include <time.h>

#include "core/reasons.h"
#include "datapath/datapath.h"

namespace wiretag::agent {

namespace {

constexpr size_t kRulesQuoted = 6;  // an explanation names at most this many rules per source

std::string address(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family == 4) inet_ntop(AF_INET, addr, buf, sizeof buf);
  if (family == 6) inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

bool has_ports(uint8_t proto) { return proto == 6 || proto == 17; }

// CLOCK_MONOTONIC (bpf_ktime_get_ns) to unix time, as the clocks are now.
int64_t unix_ns_of_monotonic(uint64_t mono_ns) {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const int64_t offset =
      (int64_t{real.tv_sec} - mono.tv_sec) * 1000000000 + (int64_t{real.tv_nsec} - mono.tv_nsec);
  return static_cast<int64_t>(mono_ns) + offset;
}

std::string rules_text(const std::vector<RuleOrigin>& rules) {
  std::string out;
  for (size_t i = 0; i < rules.size() && i < kRulesQuoted; ++i) {
    if (i) out += ", ";
    out += rule_text(rules[i].rule);
    if (!rules[i].policies.empty()) {
      out += " (";
      for (size_t p = 0; p < rules[i].policies.size(); ++p)
        out += (p ? ", " : "") + rules[i].policies[p];
      out += ")";
    }
  }
  if (rules.size() > kRulesQuoted)
    out += " and " + std::to_string(rules.size() - kRulesQuoted) + " more";
  return out;
}

}  // namespace

std::string rule_text(const Rule& rule) {
  std::string out(to_string(rule.protocol));
  if ((rule.protocol == Protocol::Tcp || rule.protocol == Protocol::Udp) && rule.ports) {
    out += "/" + std::to_string(rule.ports->start);
    if (rule.ports->end != rule.ports->start) out += "-" + std::to_string(rule.ports->end);
  }
  return out;
}

std::string explain_policy_drop(const std::string& from, const std::string& to,
                                const std::string& what, const std::vector<RuleOrigin>& from_source,
                                const std::vector<RuleOrigin>& from_any) {
  std::string out = "no rule from " + from + " to " + to + " on " + what + "; " + from + "→" + to +
                    " allows " + (from_source.empty() ? "nothing" : rules_text(from_source));
  if (!from_any.empty()) out += "; *→" + to + " allows " + rules_text(from_any);
  return out;
}

EventNamer::EventNamer(const Cell& cell, TagDirectory& directory, std::string cell_name)
    : cell_(cell), directory_(directory), cell_name_(std::move(cell_name)) {}

void EventNamer::name_peer(events::Peer& peer, uint32_t tag) {
  if (tag == 0) return;
  peer.tag = cell_.tags().wire_bytes(tag);
  if (auto known = cell_.app_of_tag(tag)) {
    if (peer.app.empty()) peer.app = known->first;
    if (peer.account.empty()) peer.account = known->second;
    if (!peer.account.empty()) return;
  }
  if (auto app = directory_.find(tag)) {
    if (peer.app.empty()) peer.app = app->guid;
    if (peer.account.empty() && peer.app == app->guid) peer.account = app->account;
  }
}

events::DropEvent EventNamer::name(const wt_event& ev) {
  events::DropEvent e;
  e.time_ns = unix_ns_of_monotonic(ev.timestamp_ns);
  e.cell = cell_name_;
  const bool stamp = ev.direction == WT_DIR_STAMP;
  e.direction = datapath::direction_name(ev.direction);
  const char* reason = reason_name(ev.reason);
  e.reason = reason ? reason : "reason_" + std::to_string(ev.reason);
  e.verdict = ev.verdict == WT_VERDICT_DROP ? "drop" : "pass";
  e.mode = datapath::mode_name(ev.mode);
  e.protocol = events::protocol_name(ev.family, ev.proto);
  e.length = ev.len;
  e.source.address = address(ev.family, ev.saddr);
  e.destination.address = address(ev.family, ev.daddr);
  if (ev.outer_family) e.underlay_source = address(ev.outer_family, ev.outer_saddr);
  if (has_ports(ev.proto)) {
    e.source.port = ntohs(ev.sport);
    e.destination.port = ntohs(ev.dport);
  }
  // The cell's endpoint is where the packet entered (enforce) or left (stamp) a container.
  events::Peer& local = stamp ? e.source : e.destination;
  // A gate drop's ifindex is the underlay device, no endpoint's.
  auto facts = ev.direction == WT_DIR_GATE ? std::nullopt : cell_.endpoint_facts(ev.ifindex, ev.src_tag);
  if (facts) {
    local.device_namespace = facts->record.device.netns;
    local.device_interface = facts->record.device.ifname;
    if (facts->record.app_guid) local.app = *facts->record.app_guid;
    local.account = facts->account;
    name_peer(local, facts->tag);
  }
  if (!stamp) name_peer(e.source, ev.src_tag);

  if (ev.reason == WT_REASON_DROP_POLICY && !stamp && facts) {
    const std::string from = !e.source.app.empty() ? e.source.app : "tag " + e.source.tag;
    const std::string to = !local.app.empty() ? local.app : local.device_interface;
    const std::string what =
        e.protocol + (has_ports(ev.proto) ? "/" + std::to_string(e.destination.port) : "");
    if (facts->record.app_guid && !facts->synced) {
      e.explanation = "no rule from " + from + " to " + to + " on " + what + "; the cell has not " +
                      "received " + to + "'s rules from the server yet";
    } else if (facts->record.app_guid) {
      e.explanation = explain_policy_drop(from, to, what, facts->from_source, facts->from_any);
    } else {
      std::string admits;
      for (uint32_t t : facts->record.static_sources)
        admits += (admits.empty() ? "" : ", ") + (t ? cell_.tags().wire_bytes(t) : "*");
      e.explanation = "no rule from " + from + " to " + to + " on " + what + "; " + to +
                      " admits " + (admits.empty() ? "no tagged source" : admits) +
                      " (static whitelist, every protocol)";
    }
  }
  return e;
}

}  // namespace wiretag::agent
