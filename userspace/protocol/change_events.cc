#include "protocol/change_events.h"

#include <limits>

namespace wiretag::protocol {

using nlohmann::json;

namespace {

struct KindName {
  EventKind kind;
  std::string_view name;
};
constexpr KindName kNames[] = {
    {EventKind::AppCreated, "app.created"},          {EventKind::AppDeleted, "app.deleted"},
    {EventKind::EdgeCreated, "edge.created"},        {EventKind::EdgeDeleted, "edge.deleted"},
    {EventKind::PolicyCreated, "policy.created"},    {EventKind::PolicyUpdated, "policy.updated"},
    {EventKind::PolicyDeleted, "policy.deleted"},    {EventKind::PdpUpdate, "pdp.update"},
    {EventKind::PdpStateChange, "pdp.state_change"},
};

Error bad_body(std::string_view kind, const std::string& what) {
  return Error{"INVALID_EVENT_BODY", "a " + std::string(kind) + " body " + what};
}

// Reads the members of one JSON object, each checked; the first problem is kept.
class Reader {
 public:
  Reader(const json& j, std::string_view kind, std::string prefix = "")
      : j_(j), kind_(kind), prefix_(std::move(prefix)) {
    if (!j.is_object()) fail("", "is not an object");
  }
  std::string str(const char* key) {
    const json* v = member(key, true);
    if (!v) return {};
    if (!v->is_string()) return fail(key, "is not a string"), std::string();
    return v->get<std::string>();
  }
  std::optional<std::string> opt_str(const char* key) {
    if (!has(key)) return std::nullopt;
    return str(key);
  }
  int64_t integer(const char* key, int64_t min, int64_t max) {
    const json* v = member(key, true);
    if (!v) return 0;
    if (!v->is_number_integer()) return fail(key, "is not an integer"), 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(max) || static_cast<int64_t>(u) < min)
        return fail(key, "is out of range"), 0;
      return static_cast<int64_t>(v->get<uint64_t>());
    }
    const int64_t n = v->get<int64_t>();
    if (n < min || n > max) return fail(key, "is out of range"), 0;
    return n;
  }
  bool boolean(const char* key) {
    const json* v = member(key, false);
    if (!v) return false;
    if (!v->is_boolean()) return fail(key, "is not a boolean"), false;
    return v->get<bool>();
  }
  std::vector<std::string> strings(const char* key) {
    std::vector<std::string> out;
    const json* v = member(key, true);
    if (!v) return out;
    if (!v->is_array()) return fail(key, "is not an array"), out;
    for (const json& s : *v) {
      if (!s.is_string()) return fail(key, "holds a non-string"), out;
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  Protocol protocol(const char* key) {
    std::string p = str(key);
    if (!ok()) return Protocol::Any;
    auto parsed = parse_protocol(p);
    if (!parsed) return fail(key, "is not tcp, udp, icmp or any"), Protocol::Any;
    return *parsed;
  }
  std::optional<PortRange> ports(const char* key) {
    if (!has(key)) return std::nullopt;
    Reader r(*member(key, true), kind_, path(key) + ".");
    PortRange range{static_cast<uint16_t>(r.integer("start", 1, 65535)),
                    static_cast<uint16_t>(r.integer("end", 1, 65535))};
    if (r.ok() && range.start > range.end) r.fail("end", "is below start");
    take(r);
    return range;
  }
  std::vector<PolicyRuleBody> rules(const char* key) {
    std::vector<PolicyRuleBody> out;
    const json* v = member(key, true);
    if (!v) return out;
    if (!v->is_array()) return fail(key, "is not an array"), out;
    for (size_t i = 0; i < v->size() && ok(); ++i) {
      Reader r((*v)[i], kind_, path(key) + "[" + std::to_string(i) + "].");
      PolicyRuleBody rule{r.str("source"), r.str("destination"), r.protocol("protocol"),
                          r.ports("ports")};
      take(r);
      out.push_back(std::move(rule));
    }
    return out;
  }
  std::vector<PolicyVersion> versions(const char* key) {
    std::vector<PolicyVersion> out;
    const json* v = member(key, true);
    if (!v) return out;
    if (!v->is_array()) return fail(key, "is not an array"), out;
    for (size_t i = 0; i < v->size() && ok(); ++i) {
      Reader r((*v)[i], kind_, path(key) + "[" + std::to_string(i) + "].");
      PolicyVersion p{r.str("name"), r.str("version")};
      take(r);
      out.push_back(std::move(p));
    }
    return out;
  }
  bool has(const char* key) const { return j_.is_object() && j_.contains(key); }
  bool ok() const { return !error_; }
  Error error() const { return *error_; }
  void fail(const char* key, const std::string& what) {
    if (!error_)
      error_ = bad_body(kind_, *key ? "member \"" + path(key) + "\" " + what
                                    : (prefix_.empty() ? what : prefix_ + " " + what));
  }

 private:
  std::string path(const char* key) const { return prefix_ + key; }
  const json* member(const char* key, bool required) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void take(const Reader& r) {
    if (!error_ && r.error_) error_ = r.error_;
  }

  const json& j_;
  std::string_view kind_;
  std::string prefix_;
  std::optional<Error> error_;
};

json ports_json(const PortRange& p) { return {{"start", p.start}, {"end", p.end}}; }

json rules_json(const std::vector<PolicyRuleBody>& rules) {
  json out = json::array();
  for (const PolicyRuleBody& r : rules) {
    json j = {{"source", r.source},
              {"destination", r.destination},
              {"protocol", std::string(to_string(r.protocol))}};
    if (r.ports) j["ports"] = ports_json(*r.ports);
    out.push_back(std::move(j));
  }
  return out;
}

json versions_json(const std::vector<PolicyVersion>& versions) {
  json out = json::array();
  for (const PolicyVersion& p : versions) out.push_back({{"name", p.name}, {"version", p.version}});
  return out;
}

struct Encoder {
  json operator()(const AppCreated& b) const {
    return {{"guid", b.guid}, {"wire_bytes", b.wire_bytes}};
  }
  json operator()(const AppDeleted& b) const {
    return {{"guid", b.guid},
            {"wire_bytes", b.wire_bytes},
            {"edges_removed", b.edges_removed},
            {"destinations", b.destinations}};
  }
  json operator()(const EdgeChange& b) const {
    json j = {{"source", b.source},
              {"source_tag", b.source_tag},
              {"destination", b.destination},
              {"policy", b.policy},
              {"protocol", std::string(to_string(b.protocol))}};
    if (b.ports) j["ports"] = ports_json(*b.ports);
    return j;
  }
  json operator()(const PolicyChange& b) const {
    json j = {
        {"id", b.id}, {"name", b.name}, {"version", b.version}, {"rules", rules_json(b.rules)}};
    if (b.previous_rules) j["previous_rules"] = rules_json(*b.previous_rules);
    return j;
  }
  json operator()(const PdpUpdate& b) const {
    return {{"messageName", "PDP_UPDATE"},
            {"group", b.group},
            {"pdpGroup", b.group},
            {"pdpSubgroup", b.subgroup},
            {"policies", versions_json(b.policies)},
            {"policiesToBeDeployed", versions_json(b.to_deploy)},
            {"policiesToBeUndeployed", versions_json(b.to_undeploy)}};
  }
  json operator()(const PdpStateChange& b) const {
    json j = {{"messageName", "PDP_STATE_CHANGE"},
              {"group", b.group},
              {"pdpGroup", b.group},
              {"state", b.state},
              {"mode", b.mode}};
    if (b.deleted) j["deleted"] = true;
    return j;
  }
};

}  // namespace

std::string_view to_string(EventKind kind) {
  for (const KindName& k : kNames)
    if (k.kind == kind) return k.name;
  return "unknown";
}

std::optional<EventKind> parse_event_kind(std::string_view kind) {
  for (const KindName& k : kNames)
    if (k.name == kind) return k.kind;
  return std::nullopt;
}

bool is_edge(EventKind k) { return k == EventKind::EdgeCreated || k == EventKind::EdgeDeleted; }
bool is_policy(EventKind k) {
  return k == EventKind::PolicyCreated || k == EventKind::PolicyUpdated ||
         k == EventKind::PolicyDeleted;
}
bool is_pdp(EventKind k) { return k == EventKind::PdpUpdate || k == EventKind::PdpStateChange; }

bool body_fits(EventKind kind, const EventBody& body) {
  switch (kind) {
    case EventKind::AppCreated:
      return std::holds_alternative<AppCreated>(body);
    case EventKind::AppDeleted:
      return std::holds_alternative<AppDeleted>(body);
    case EventKind::EdgeCreated:
    case EventKind::EdgeDeleted:
      return std::holds_alternative<EdgeChange>(body);
    case EventKind::PolicyCreated:
    case EventKind::PolicyUpdated:
    case EventKind::PolicyDeleted:
      return std::holds_alternative<PolicyChange>(body);
    case EventKind::PdpUpdate:
      return std::holds_alternative<PdpUpdate>(body);
    case EventKind::PdpStateChange:
      return std::holds_alternative<PdpStateChange>(body);
  }
  return false;
}

json encode_body(const EventBody& body) { return std::visit(Encoder{}, body); }

Result<EventBody> decode_body(EventKind kind, const json& j) {
  const std::string_view name = to_string(kind);
  Reader r(j, name);
  EventBody out;
  switch (kind) {
    case EventKind::AppCreated:
      out = AppCreated{r.str("guid"), r.str("wire_bytes")};
      break;
    case EventKind::AppDeleted:
      out = AppDeleted{r.str("guid"), r.str("wire_bytes"),
                       r.integer("edges_removed", 0, std::numeric_limits<int64_t>::max()),
                       r.strings("destinations")};
      break;
    case EventKind::EdgeCreated:
    case EventKind::EdgeDeleted: {
      EdgeChange e;
      e.source = r.str("source");
      e.source_tag = static_cast<uint32_t>(r.integer("source_tag", 0, UINT32_MAX));
      e.destination = r.str("destination");
      e.policy = r.str("policy");
      e.protocol = r.protocol("protocol");
      e.ports = r.ports("ports");
      out = std::move(e);
      break;
    }
    case EventKind::PolicyCreated:
    case EventKind::PolicyUpdated:
    case EventKind::PolicyDeleted: {
      PolicyChange p;
      p.id = r.str("id");
      p.name = r.str("name");
      p.version = r.integer("version", 1, std::numeric_limits<int64_t>::max());
      p.rules = r.rules("rules");
      if (kind == EventKind::PolicyUpdated) p.previous_rules = r.rules("previous_rules");
      out = std::move(p);
      break;
    }
    case EventKind::PdpUpdate:
      out = PdpUpdate{r.str("group"), r.str("pdpSubgroup"), r.versions("policies"),
                      r.has("policiesToBeDeployed") ? r.versions("policiesToBeDeployed")
                                                    : std::vector<PolicyVersion>{},
                      r.has("policiesToBeUndeployed") ? r.versions("policiesToBeUndeployed")
                                                      : std::vector<PolicyVersion>{}};
      break;
    case EventKind::PdpStateChange:
      out = PdpStateChange{r.str("group"), r.str("state"), r.str("mode"), r.boolean("deleted")};
      break;
  }
  if (!r.ok()) return r.error();
  return out;
}

Result<EventBody> decode_body_text(EventKind kind, std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad_body(to_string(kind), "is not JSON");
  return decode_body(kind, j);
}

std::vector<std::string> touched_destinations(const EventBody& body) {
  std::vector<std::string> out;
  if (const auto* e = std::get_if<EdgeChange>(&body)) out.push_back(e->destination);
  if (const auto* d = std::get_if<AppDeleted>(&body)) out = d->destinations;
  if (const auto* p = std::get_if<PolicyChange>(&body)) {
    for (const PolicyRuleBody& r : p->rules) out.push_back(r.destination);
    if (p->previous_rules)
      for (const PolicyRuleBody& r : *p->previous_rules) out.push_back(r.destination);
  }
  return out;
}

json to_json(const WatchEvent& e) {
  json j = {{"revision", e.revision},
            {"kind", std::string(to_string(e.kind))},
            {"account", e.account},
            {"subject", e.subject},
            {"body", encode_body(e.body)},
            {"principal", e.principal ? json(*e.principal) : json(nullptr)}};
  if (e.committed_at_ms) j["committed_at_ms"] = *e.committed_at_ms;
  return j;
}

Result<WatchEvent> parse_watch_event(const json& j) {
  auto bad = [](const std::string& what) {
    return Error{"INVALID_EVENT", "a watch event " + what};
  };
  if (!j.is_object()) return bad("that is not an object");
  WatchEvent e;
  if (!j.contains("revision") || !j["revision"].is_number_integer() ||
      j["revision"].get<int64_t>() < 0)
    return bad("without a revision (an integer >= 0)");
  e.revision = j["revision"].get<int64_t>();
  if (!j.contains("kind") || !j["kind"].is_string()) return bad("without a kind");
  const std::string kind = j["kind"].get<std::string>();
  auto parsed = parse_event_kind(kind);
  if (!parsed)
    return Error{"UNKNOWN_EVENT_KIND", "a watch event of kind \"" + kind + "\", unknown here"};
  e.kind = *parsed;
  for (const char* key : {"account", "subject"})
    if (!j.contains(key) || !j[key].is_string())
      return bad("without " + std::string(key) + " (a string)");
  e.account = j["account"].get<std::string>();
  e.subject = j["subject"].get<std::string>();
  if (j.contains("committed_at_ms")) {
    if (!j["committed_at_ms"].is_number_integer())
      return bad("with a committed_at_ms not an integer");
    e.committed_at_ms = j["committed_at_ms"].get<int64_t>();
  }
  if (j.contains("principal") && !j["principal"].is_null()) {
    if (!j["principal"].is_string()) return bad("with a principal not a string");
    e.principal = j["principal"].get<std::string>();
  }
  if (!j.contains("body")) return bad("without a body");
  auto body = decode_body(e.kind, j["body"]);
  if (!body) return body.error();
  e.body = std::move(*body);
  return e;
}

}  // namespace wiretag::protocol
