#include "agent/server_messages.h"

#include <string>

#include "agent/assignment.h"
#include "common/log.h"
#include "protocol/change_events.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {

Error bad(const std::string& what) { return Error{"INVALID_RESPONSE", "server sent " + what}; }

}  // namespace

Result<ChangeEvent> parse_event(const json& j) {
  if (!j.is_object() || !j.contains("revision") || !j["revision"].is_number_integer())
    return bad("a watch event without a revision");
  ChangeEvent e;
  e.revision = j["revision"].get<int64_t>();
  auto event = protocol::parse_watch_event(j);
  if (!event) {
    // A newer server's kind, or a body this agent cannot read: what it touches is unknown.
    spdlog::warn("watch event at revision {}: {}: {} (resyncing)", e.revision, event.error().code,
                 event.error().message);
    return e;
  }
  e.kind = event->kind;
  e.subject = event->subject;
  e.committed_at_ms = event->committed_at_ms;
  e.destinations = protocol::touched_destinations(event->body);
  if (const auto* edge = std::get_if<protocol::EdgeChange>(&event->body);
      edge && edge->policy == kDefaultWhitelist)
    e.edge = EdgeChange{edge->source, edge->destination,
                        Rule{edge->source_tag, edge->protocol, edge->ports}};
  if (const auto* u = std::get_if<protocol::PdpUpdate>(&event->body))
    e.pdp = PdpChange{u->group, u->subgroup, "", "", false};
  if (const auto* c = std::get_if<protocol::PdpStateChange>(&event->body))
    e.pdp = PdpChange{c->group, "", c->state, c->mode, c->deleted};
  return e;
}

Result<ServerSnapshot> parse_server_status(const json& j) {
  if (!j.is_object() || !j.contains("store_id") || !j["store_id"].is_string() ||
      !j.contains("revision") || !j["revision"].is_number_integer())
    return bad("a status reply without store_id or revision");
  ServerSnapshot s;
  s.store_id = j["store_id"].get<std::string>();
  s.revision = j["revision"].get<int64_t>();
  return s;
}

Result<ServerSnapshot> parse_snapshot(const json& j) {
  try {
    ServerSnapshot s;
    s.store_id = j.at("store_id").get<std::string>();
    s.revision = j.at("revision").get<int64_t>();
    for (const json& a : j.at("apps")) {
      AppPolicy p;
      p.guid = a.at("guid").get<std::string>();
      if (a.contains("account")) p.account = a["account"].get<std::string>();
      p.tag = a.at("tag").get<uint32_t>();
      p.revision = s.revision;
      for (const json& r : a.at("rules")) {
        Rule rule;
        rule.source_tag = r.at("source_tag").get<uint32_t>();
        auto proto = parse_protocol(r.at("protocol").get<std::string>());
        if (!proto) return bad("an unknown protocol in a rule");
        rule.protocol = *proto;
        if (r.contains("ports")) {
          const json& ports = r["ports"];
          rule.ports =
              PortRange{ports.at("start").get<uint16_t>(), ports.at("end").get<uint16_t>()};
        }
        RuleOrigin origin{r.at("source").get<std::string>(), rule, {}};
        if (r.contains("policies")) origin.policies = r["policies"].get<std::vector<std::string>>();
        p.origins.push_back(std::move(origin));
        p.sources.insert(r.at("source").get<std::string>());
        if (rule.source_tag) p.source_tags[r.at("source").get<std::string>()] = rule.source_tag;
        p.rules.push_back(rule);
      }
      canonicalize(p.rules);  // so "same rules" compares equal however the server listed them
      s.apps.push_back(std::move(p));
    }
    if (j.contains("missing"))
      for (const json& m : j["missing"]) s.missing.push_back(m.get<std::string>());
    if (j.contains("cell")) {
      WT_TRY(assignment, parse_assignment(j["cell"]));
      s.assignment = std::move(*assignment);
    }
    return s;
  } catch (const json::exception& e) {
    return bad(std::string("a malformed endpoints query reply: ") + e.what());
  }
}

}  // namespace wiretag::agent
