#include "agent/server_messages.h"

#include <string>

#include "agent/assignment.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {

Error bad(const std::string& what) { return Error{"INVALID_RESPONSE", "server sent " + what}; }

}  // namespace

Result<ChangeEvent> parse_event(const json& j) {
  if (!j.is_object() || !j.contains("revision") || !j["revision"].is_number_integer() ||
      !j.contains("kind") || !j["kind"].is_string())
    return bad("a watch event without revision or kind");
  ChangeEvent e;
  e.revision = j["revision"].get<int64_t>();
  e.kind = j["kind"].get<std::string>();
  if (j.contains("committed_at_ms") && j["committed_at_ms"].is_number_integer())
    e.committed_at_ms = j["committed_at_ms"].get<int64_t>();
  if (j.contains("subject") && j["subject"].is_string())
    e.subject = j["subject"].get<std::string>();
  if (j.contains("body") && j["body"].is_object()) {
    const json& b = j["body"];
    if (b.contains("destination") && b["destination"].is_string())
      e.destinations.push_back(b["destination"].get<std::string>());
    if (e.kind.starts_with("edge.") && b.contains("source") && b["source"].is_string() &&
        b.contains("destination") && b["destination"].is_string() && b.contains("source_tag") &&
        b["source_tag"].is_number_unsigned() && b.contains("protocol") &&
        b["protocol"].is_string() &&
        b.value("policy", "default-whitelist") == "default-whitelist") {
      if (auto proto = parse_protocol(b["protocol"].get<std::string>())) {
        EdgeChange edge{b["source"].get<std::string>(), b["destination"].get<std::string>(),
                        Rule{b["source_tag"].get<uint32_t>(), *proto, std::nullopt}};
        bool ok = true;
        if (b.contains("ports")) {
          const json& p = b["ports"];
          if (p.is_object() && p.contains("start") && p["start"].is_number_unsigned() &&
              p.contains("end") && p["end"].is_number_unsigned())
            edge.rule.ports = PortRange{p["start"].get<uint16_t>(), p["end"].get<uint16_t>()};
          else
            ok = false;
        }
        if (ok) e.edge = std::move(edge);
      }
    }
    if (e.kind.starts_with("pdp.")) {
      PdpChange pdp;
      auto str = [&](const char* key) {
        return b.contains(key) && b[key].is_string() ? b[key].get<std::string>() : std::string();
      };
      pdp.group = str("group");
      pdp.subgroup = str("pdpSubgroup");
      pdp.state = str("state");
      pdp.mode = str("mode");
      pdp.deleted = b.contains("deleted") && b["deleted"].is_boolean() && b["deleted"].get<bool>();
      if (pdp.group.empty()) pdp.group = e.subject;
      e.pdp = std::move(pdp);
    }
    if (b.contains("rules") && b["rules"].is_array())
      for (const json& r : b["rules"])
        if (r.is_object() && r.contains("destination") && r["destination"].is_string())
          e.destinations.push_back(r["destination"].get<std::string>());
  }
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
