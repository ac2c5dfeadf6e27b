#include "events/drop_event.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/app_guid.h"
#include "core/reasons.h"
#include "wiretag/abi.h"

namespace wiretag::events {

using nlohmann::json;

namespace {

json peer_json(const Peer& p) {
  json out = json::object();
  if (!p.address.empty()) out["address"] = p.address;
  if (p.port) out["port"] = p.port;
  if (!p.tag.empty()) out["tag"] = p.tag;
  if (!p.app.empty()) out["app"] = p.app;
  if (!p.account.empty()) out["account"] = p.account;
  if (!p.device_interface.empty())
    out["device"] = {{"namespace", p.device_namespace}, {"interface_name", p.device_interface}};
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Peer> peer_from_json(const json& j) {
  if (!j.is_object())
    return Error{"INVALID_EVENT", "an event's source and destination are objects"};
  Peer p;
  p.address = str(j, "address");
  p.tag = str(j, "tag");
  p.app = str(j, "app");
  p.account = str(j, "account");
  if (auto it = j.find("port"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 65535)
      return Error{"INVALID_EVENT", "a port is 0-65535"};
    p.port = it->get<uint16_t>();
  }
  if (auto it = j.find("device"); it != j.end() && it->is_object()) {
    p.device_namespace = str(*it, "namespace");
    p.device_interface = str(*it, "interface_name");
  }
  return p;
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    out.emplace_back(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

bool known_reason(const std::string& name) {
  for (uint32_t r = 0; r < WT_REASON_MAX; ++r)
    if (const char* n = reason_name(r); n && name == n) return true;
  return false;
}

bool valid_cell_name(std::string_view s) { return is_valid_app_guid(s); }

}  // namespace

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_time(int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((unix_ns % 1000000000) / 1000));
  return buf;
}

std::string protocol_name(uint8_t family, uint8_t proto) {
  return family == 0 ? "" : ip_protocol_name(proto);
}

json to_json(const DropEvent& e) {
  json out = {{"type", e.verdict == "pass" ? "audit" : "drop"},
              {"time", format_time(e.time_ns)},
              {"time_ns", e.time_ns},
              {"cell", e.cell},
              {"direction", e.direction},
              {"reason", e.reason},
              {"verdict", e.verdict},
              {"mode", e.mode},
              {"length", e.length},
              {"source", peer_json(e.source)},
              {"destination", peer_json(e.destination)}};
  if (!e.protocol.empty()) out["protocol"] = e.protocol;
  if (!e.explanation.empty()) out["explanation"] = e.explanation;
  if (!e.underlay_source.empty()) out["underlay_source"] = e.underlay_source;
  return out;
}

Result<DropEvent> event_from_json(const json& j) {
  if (!j.is_object()) return Error{"INVALID_EVENT", "an event is an object"};
  const std::string type = str(j, "type");
  if (type != "drop" && type != "audit")
    return Error{"INVALID_EVENT", "an event's type is drop or audit"};
  DropEvent e;
  if (auto it = j.find("time_ns"); it != j.end() && it->is_number_integer())
    e.time_ns = it->get<int64_t>();
  e.cell = str(j, "cell");
  e.direction = str(j, "direction");
  e.reason = str(j, "reason");
  e.verdict = str(j, "verdict");
  e.mode = str(j, "mode");
  e.protocol = str(j, "protocol");
  e.explanation = str(j, "explanation");
  e.underlay_source = str(j, "underlay_source");
  if (auto it = j.find("length"); it != j.end() && it->is_number_unsigned())
    e.length = it->get<uint32_t>();
  if (!known_reason(e.reason)) return Error{"INVALID_EVENT", "an event's reason is unknown"};
  if (e.verdict != "drop" && e.verdict != "pass")
    return Error{"INVALID_EVENT", "an event's verdict is drop or pass"};
  for (auto [key, peer] : {std::pair{"source", &e.source}, {"destination", &e.destination}}) {
    if (!j.contains(key)) continue;
    WT_TRY(p, peer_from_json(j[key]));
    *peer = std::move(*p);
  }
  return e;
}

json lost_json(uint64_t count, std::string_view cause, int64_t time_ns, std::string_view cell) {
  json out = {{"type", "lost"},
              {"time", format_time(time_ns)},
              {"time_ns", time_ns},
              {"count", count},
              {"cause", cause}};
  if (!cell.empty()) out["cell"] = cell;
  return out;
}

json heartbeat_json(int64_t time_ns) {
  return {{"type", "heartbeat"}, {"time", format_time(time_ns)}, {"time_ns", time_ns}};
}

bool EventFilter::matches(const DropEvent& e) const {
  if (!apps.empty() && !apps.count(e.source.app) && !apps.count(e.destination.app)) return false;
  if (!reasons.empty() && !reasons.count(e.reason)) return false;
  if (!verdicts.empty() && !verdicts.count(e.verdict)) return false;
  if (!matches_cell(e.cell)) return false;
  if (accounts && !accounts->count(e.endpoint().account)) return false;
  return true;
}

bool EventFilter::matches_cell(std::string_view cell) const {
  return cells.empty() || cells.count(std::string(cell));
}

bool EventFilter::redacts(const DropEvent& e) const {
  if (!accounts) return false;
  const Peer& other = &e.endpoint() == &e.source ? e.destination : e.source;
  return !other.account.empty() ? !accounts->count(other.account) : !other.app.empty();
}

Result<EventFilter> parse_event_filter(const std::map<std::string, std::string>& query,
                                       bool with_cell) {
  EventFilter f;
  for (const auto& [name, value] : query) {
    if (name == "app") {
      for (std::string& app : split(value)) {
        if (!is_valid_app_guid(app))
          return Error{"INVALID_APP_GUID",
                       "app: \"" + app + "\" is no app guid (1-128 of " + "[A-Za-z0-9._:-])"};
        f.apps.insert(std::move(app));
      }
    } else if (name == "reason") {
      for (std::string& reason : split(value)) {
        if (!known_reason(reason))
          return Error{"INVALID_REASON", "reason: \"" + reason +
                                             "\" is no verdict reason (drop_policy, "
                                             "drop_untagged, …: docs/datapath.md)"};
        f.reasons.insert(std::move(reason));
      }
    } else if (name == "verdict") {
      for (std::string& verdict : split(value)) {
        if (verdict != "drop" && verdict != "pass")
          return Error{"INVALID_VERDICT",
                       "verdict: \"" + verdict + "\" is neither drop nor pass (audited)"};
        f.verdicts.insert(std::move(verdict));
      }
    } else if (name == "cell" && with_cell) {
      for (std::string& cell : split(value)) {
        if (!valid_cell_name(cell))
          return Error{"INVALID_CELL_NAME", "cell: \"" + cell + "\" is no cell name"};
        f.cells.insert(std::move(cell));
      }
    } else {
      return Error{"INVALID_QUERY", "unknown query parameter \"" + name + "\" (app, reason, " +
                                        (with_cell ? "verdict, cell)" : "verdict)")};
    }
  }
  return f;
}

}  // namespace wiretag::events
