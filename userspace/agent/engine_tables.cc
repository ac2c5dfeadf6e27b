#include "agent/engine_tables.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>

#include "core/reasons.h"
#include "http/json_input.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {

const TableSchema* find_table(const std::string& name) {
  for (const TableSchema& t : engine_tables())
    if (t.name == name) return &t;
  return nullptr;
}

json address(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4 && inet_ntop(AF_INET, addr, buf, sizeof buf)) return buf;
  if (family == 6 && inet_ntop(AF_INET6, addr, buf, sizeof buf)) return buf;
  return nullptr;
}

std::string endpoint_flags(uint8_t flags) {
  std::string out;
  for (auto [bit, name] : {std::pair{WT_EP_ANTISPOOF_V4, "antispoof_v4"},
                           std::pair{WT_EP_ANTISPOOF_V6, "antispoof_v6"},
                           std::pair{WT_EP_HAS_SRC_POLICY, "has_src_policy"},
                           std::pair{WT_EP_HAS_WILDCARD_PORTS, "has_wildcard_ports"},
                           std::pair{WT_EP_HAS_WILDCARD_SRC, "has_wildcard_src"}})
    if (flags & bit) out += (out.empty() ? "" : ",") + std::string(name);
  return out;
}

// Each endpoint device by ifindex (the devices map), to name it in every row.
class DeviceNames {
 public:
  explicit DeviceNames(const datapath::Datapath& dp) {
    datapath::TypedMap<uint32_t, wt_device> devices(dp.map_fd(WT_MAP_DEVICES), WT_MAP_DEVICES);
    devices.for_each_key([&](const uint32_t& ifindex) {
      if (auto d = devices.lookup(ifindex)) names_[ifindex] = datapath::device_of(*d);
    });
  }
  // "ifindex", "namespace", "interface_name" (null: an ifindex no device of ours has).
  void add(json& row, uint32_t ifindex) const {
    row["ifindex"] = ifindex;
    auto it = names_.find(ifindex);
    row["namespace"] = it == names_.end() ? json(nullptr) : json(it->second.netns);
    row["interface_name"] = it == names_.end() ? json(nullptr) : json(it->second.ifname);
  }

 private:
  std::map<uint32_t, datapath::Device> names_;
};

void endpoints(const datapath::Datapath& dp, const DeviceNames& names, std::vector<json>& rows) {
  auto map = dp.endpoint_map();
  map.for_each_key([&](const uint32_t& ifindex) {
    auto ep = map.lookup(ifindex);
    if (!ep) return;
    json r;
    names.add(r, ifindex);
    r["endpoint_tag"] = ep->tag;
    r["mode"] = datapath::mode_name(ep->mode);
    r["untagged"] = ep->untagged == WT_UNTAGGED_DENY ? "deny" : "allow";
    r["generation"] = ep->generation;
    r["flags"] = endpoint_flags(ep->flags);
    r["ipv4"] = ep->flags & WT_EP_ANTISPOOF_V4
                    ? address(4, reinterpret_cast<const uint8_t*>(&ep->ipv4))
                    : json(nullptr);
    r["ipv6"] = ep->flags & WT_EP_ANTISPOOF_V6 ? address(6, ep->ipv6) : json(nullptr);
    r["slot"] = ep->slot;
    rows.push_back(std::move(r));
  });
}

void devices(const datapath::Datapath& dp, const DeviceNames& names, std::vector<json>& rows) {
  datapath::TypedMap<uint32_t, wt_device> map(dp.map_fd(WT_MAP_DEVICES), WT_MAP_DEVICES);
  map.for_each_key([&](const uint32_t& ifindex) {
    auto d = map.lookup(ifindex);
    if (!d) return;
    json r;
    names.add(r, ifindex);
    std::string attached;
    if (d->attached & 1) attached = "stamp";
    if (d->attached & 2) attached += attached.empty() ? "enforce" : ",enforce";
    r["attached"] = attached;
    rows.push_back(std::move(r));
  });
}

// The generation each endpoint enforces, to say which rules are in force.
std::map<uint32_t, uint8_t> generations(const datapath::Datapath& dp) {
  std::map<uint32_t, uint8_t> out;
  auto map = dp.endpoint_map();
  map.for_each_key([&](const uint32_t& ifindex) {
    if (auto ep = map.lookup(ifindex)) out[ifindex] = ep->generation & 1;
  });
  return out;
}

json rule_row(const DeviceNames& names, const std::map<uint32_t, uint8_t>& gens, uint32_t ifindex,
              uint32_t src_tag, uint8_t generation, const std::string& proto, json first, json last,
              const char* map) {
  json r;
  names.add(r, ifindex);
  r["src_tag"] = src_tag;
  r["proto"] = proto;
  r["port_first"] = std::move(first);
  r["port_last"] = std::move(last);
  r["generation"] = generation;
  auto it = gens.find(ifindex);
  r["in_force"] = it != gens.end() && it->second == (generation & 1);
  r["map"] = map;
  return r;
}

void rules(const datapath::Datapath& dp, const DeviceNames& names, std::vector<json>& rows) {
  const auto gens = generations(dp);
  auto src = dp.src_policy_map();
  src.for_each_key([&](const wt_src_key& k) {
    auto p = src.lookup(k);
    if (!p) return;
    auto row = [&](const std::string& proto, json first, json last) {
      rows.push_back(rule_row(names, gens, k.ifindex, k.src_tag, k.generation, proto,
                              std::move(first), std::move(last), WT_MAP_SRC_POLICY));
    };
    if (p->any_proto) row("any", nullptr, nullptr);
    if (p->icmp) row("icmp", nullptr, nullptr);
    if (p->port_plens[WT_PROTO_SLOT_TCP] & 1) row("tcp", 0, 65535);
    if (p->port_plens[WT_PROTO_SLOT_UDP] & 1) row("udp", 0, 65535);
  });
  auto port = dp.port_policy_map();
  port.for_each_key([&](const wt_port_key& k) {
    const unsigned plen = k.plen_gen >> 1;
    const uint32_t span = plen >= 16 ? 1 : 1u << (16 - plen);
    rows.push_back(rule_row(names, gens, k.ifindex, k.src_tag, k.plen_gen & 1,
                            ip_protocol_name(k.proto), k.port, k.port + span - 1,
                            WT_MAP_PORT_POLICY));
  });
}

void flows(const datapath::Datapath& dp, const DeviceNames& names, std::vector<json>& rows) {
  auto map = dp.flow_map();
  map.for_each_key([&](const wt_flow_key& k) {
    auto f = map.lookup(k);
    if (!f) return;
    json r;
    names.add(r, k.ifindex);
    r["family"] = k.family;
    r["proto"] = ip_protocol_name(k.proto);
    r["saddr"] = address(k.family, k.saddr);
    r["sport"] = ntohs(k.sport);
    r["daddr"] = address(k.family, k.daddr);
    r["dport"] = ntohs(k.dport);
    r["last_seen_ns"] = f->last_seen_ns;
    rows.push_back(std::move(r));
  });
}

void counters(const datapath::Datapath& dp, const DeviceNames& names, std::vector<json>& rows) {
  for (const datapath::CounterRow& c : dp.counters()) {
    json r;
    names.add(r, c.key.ifindex);
    r["direction"] = datapath::direction_name(c.key.direction);
    const char* reason = datapath::reason_name(c.key.reason);
    r["reason"] = reason ? std::string(reason) : std::to_string(c.key.reason);
    r["verdict"] = c.key.verdict == WT_VERDICT_DROP ? "drop" : "pass";
    r["packets"] = c.total.packets;
    r["bytes"] = c.total.bytes;
    rows.push_back(std::move(r));
  }
}

std::vector<TableColumn> device_columns(std::vector<TableColumn> more) {
  std::vector<TableColumn> out = {
      {"ifindex", "integer"}, {"namespace", "string"}, {"interface_name", "string"}};
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace

const std::vector<TableSchema>& engine_tables() {
  static const std::vector<TableSchema> tables = {
      {"endpoints", device_columns({{"endpoint_tag", "integer"},
                                    {"mode", "string"},
                                    {"untagged", "string"},
                                    {"generation", "integer"},
                                    {"flags", "string"},
                                    {"ipv4", "string"},
                                    {"ipv6", "string"},
                                    {"slot", "integer"}})},
      {"devices", device_columns({{"attached", "string"}})},
      {"rules", device_columns({{"src_tag", "integer"},
                                {"proto", "string"},
                                {"port_first", "integer"},
                                {"port_last", "integer"},
                                {"generation", "integer"},
                                {"in_force", "boolean"},
                                {"map", "string"}})},
      {"flows", device_columns({{"family", "integer"},
                                {"proto", "string"},
                                {"saddr", "string"},
                                {"sport", "integer"},
                                {"daddr", "string"},
                                {"dport", "integer"},
                                {"last_seen_ns", "integer"}})},
      {"counters", device_columns({{"direction", "string"},
                                   {"reason", "string"},
                                   {"verdict", "string"},
                                   {"packets", "integer"},
                                   {"bytes", "integer"}})},
  };
  return tables;
}

namespace {

json columns_json(const TableSchema& t) {
  json cols = json::array();
  for (const TableColumn& c : t.columns) cols.push_back({{"name", c.name}, {"type", c.type}});
  return cols;
}

Result<size_t> count_field(const json& body, const char* key, size_t fallback, size_t max,
                           const char* code) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  const json& v = body[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
      static_cast<uint64_t>(v.get<int64_t>()) > max)
    return Error{code, std::string(key) + " must be an integer from 0 to " + std::to_string(max)};
  return static_cast<size_t>(v.get<int64_t>());
}

}  // namespace

json tables_json() {
  json out = json::array();
  for (const TableSchema& t : engine_tables())
    out.push_back({{"name", t.name}, {"columns", columns_json(t)}});
  return {{"tables", out}};
}

Result<RowQuery> parse_row_query(const json& body) {
  if (!body.is_object()) return Error{"INVALID_BODY", "a rows request is a JSON object"};
  if (auto r = http::check_fields(body, {"table"}, {"filter", "limit", "offset"}); !r)
    return r.error();
  WT_TRY(name, http::string_field(body, "table"));
  RowQuery q;
  q.table = find_table(*name);
  if (!q.table) {
    std::string known;
    for (const TableSchema& t : engine_tables()) known += (known.empty() ? "" : ", ") + t.name;
    return Error{"TABLE_NOT_FOUND", "no table \"" + *name + "\"; the tables are: " + known};
  }
  if (body.contains("filter") && !body["filter"].is_null()) {
    const json& filter = body["filter"];
    if (!filter.is_object())
      return Error{"INVALID_FIELD_TYPE", "filter must be an object of column: value"};
    for (const auto& [column, value] : filter.items()) {
      const auto& cols = q.table->columns;
      if (std::none_of(cols.begin(), cols.end(),
                       [&](const TableColumn& c) { return c.name == column; }))
        return Error{"UNKNOWN_COLUMN",
                     "table " + q.table->name + " has no column \"" + column + "\""};
      if (!value.is_string() && !value.is_number() && !value.is_boolean())
        return Error{"INVALID_FIELD_TYPE", "filter." + column + " must be a string"};
      q.filter.emplace_back(column, cell_text(value));
    }
  }
  WT_TRY(limit, count_field(body, "limit", 100, kMaxRowLimit, "INVALID_LIMIT"));
  WT_TRY(offset, count_field(body, "offset", 0, INT64_MAX, "INVALID_OFFSET"));
  q.limit = *limit;
  q.offset = *offset;
  return q;
}

std::string cell_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

json select_rows(const RowQuery& q, std::vector<json> rows) {
  std::erase_if(rows, [&](const json& row) {
    for (const auto& [column, want] : q.filter) {
      auto it = row.find(column);
      if (cell_text(it == row.end() ? json(nullptr) : *it) != want) return true;
    }
    return false;
  });
  // Each row's sort key once: a flows table may hold a few hundred thousand rows.
  std::vector<std::pair<std::vector<json>, size_t>> order;
  order.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<json> key;
    for (const TableColumn& c : q.table->columns) key.push_back(rows[i].value(c.name, json()));
    order.emplace_back(std::move(key), i);
  }
  std::sort(order.begin(), order.end());
  json page = json::array();
  for (size_t i = q.offset; i < order.size() && page.size() < q.limit; ++i)
    page.push_back(std::move(rows[order[i].second]));
  return {{"table", q.table->name},
          {"columns", columns_json(*q.table)},
          {"rows", std::move(page)},
          {"total", rows.size()}};
}

std::vector<json> read_table(const datapath::Datapath& dp, const std::string& table) {
  static const std::map<std::string,
                        void (*)(const datapath::Datapath&, const DeviceNames&, std::vector<json>&)>
      readers = {{"endpoints", endpoints},
                 {"devices", devices},
                 {"rules", rules},
                 {"flows", flows},
                 {"counters", counters}};
  std::vector<json> rows;
  if (auto it = readers.find(table); it != readers.end()) it->second(dp, DeviceNames(dp), rows);
  return rows;
}

json map_fill(const datapath::Datapath& dp) {
  json out = json::object();
  for (const char* name : {WT_MAP_ENDPOINTS, WT_MAP_DEVICES, WT_MAP_SRC_POLICY, WT_MAP_PORT_POLICY,
                           WT_MAP_FLOWS, WT_MAP_FRAGMENTS, WT_MAP_COUNTERS}) {
    const int fd = dp.map_fd(name);
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    std::vector<uint8_t> key(info.key_size), next(info.key_size);
    uint64_t entries = 0;
    for (const void* cur = nullptr; bpf_map_get_next_key(fd, cur, next.data()) == 0;
         cur = key.data()) {
      key.swap(next);
      ++entries;
    }
    out[name] = {{"entries", entries}, {"capacity", info.max_entries}};
  }
  return out;
}

void add_table_ops(CellRequests& requests, const datapath::Datapath& dp) {
  requests.add("tables", [](const json& body) -> Result<json> {
    if (auto r = http::check_fields(body, {}); !r) return r.error();
    return tables_json();
  });
  requests.add("rows", [&dp](const json& body) -> Result<json> {
    WT_TRY(q, parse_row_query(body));
    return select_rows(*q, read_table(dp, q->table->name));
  });
}

}  // namespace wiretag::agent
