#include "core/service_catalog.h"

#include <algorithm>
#include <charconv>

#include "core/app_guid.h"
#include "core/device_name.h"

namespace wiretag {

using nlohmann::json;

namespace {

bool all_of_chars(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

constexpr std::string_view kLowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";

std::optional<int64_t> parse_count(std::string_view s, int64_t min, int64_t max) {
  if (s.empty() || s.size() > 12 || !all_of_chars(s, "0123456789")) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

bool is_column_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && all_of_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
}

// {"namespace","interface_name"} as the Policy Plugin API names a device (SPEC §3).
Result<json> device_value(const json& d) {
  if (!d.is_object())
    return Error{"INVALID_FIELD_TYPE", "\"device\" must be an object {namespace, interface_name}"};
  for (const auto& [key, _] : d.items())
    if (key != "namespace" && key != "interface_name")
      return Error{"UNKNOWN_FIELD", "unknown field \"device." + key + "\""};
  for (const char* key : {"namespace", "interface_name"}) {
    if (!d.contains(key))
      return Error{"MISSING_FIELD", "missing field \"device." + std::string(key) + "\""};
    if (!d[key].is_string())
      return Error{"INVALID_FIELD_TYPE", "\"device." + std::string(key) + "\" must be a string"};
  }
  const std::string netns = d["namespace"];
  const std::string ifname = d["interface_name"];
  if (auto r = check_device_name(netns, ifname, "device."); !r) return r.error();
  return json{{"namespace", netns}, {"interface_name", ifname}};
}

}  // namespace

std::string_view to_string(ServiceType type) {
  return type == ServiceType::PolicyEngine ? "policy-engine" : "datasource";
}

std::optional<ServiceType> parse_service_type(std::string_view text) {
  if (text == "policy-engine") return ServiceType::PolicyEngine;
  if (text == "datasource") return ServiceType::DataSource;
  return std::nullopt;
}

const std::vector<std::string>& data_source_names() {
  static const std::vector<std::string> names = {"apps", "cells", "policies", "groups"};
  return names;
}

std::string ServiceId::id() const {
  return type == ServiceType::PolicyEngine ? std::string(kEngineServicePrefix) + name : name;
}

Result<ServiceId> parse_service_id(std::string_view id) {
  const Error invalid{"INVALID_SERVICE_ID",
                      "a service id is \"cell:<cell name>\" or a data source (apps, cells, "
                      "policies, groups), 1-140 of [A-Za-z0-9._:-]"};
  if (id.empty() || id.size() > kEngineServicePrefix.size() + 128) return invalid;
  if (id.starts_with(kEngineServicePrefix)) {
    std::string_view cell = id.substr(kEngineServicePrefix.size());
    if (!is_valid_app_guid(cell)) return invalid;
    return ServiceId{ServiceType::PolicyEngine, std::string(cell)};
  }
  if (!is_valid_app_guid(id)) return invalid;
  const auto& sources = data_source_names();
  if (std::find(sources.begin(), sources.end(), id) != sources.end())
    return ServiceId{ServiceType::DataSource, std::string(id)};
  return Error{"SERVICE_NOT_FOUND", "no service \"" + std::string(id) + "\""};
}

Result<void> check_alias(std::string_view alias) {
  if (alias.empty() || alias.size() > 64 ||
      !all_of_chars(alias, "abcdefghijklmnopqrstuvwxyz0123456789._-"))
    return Error{"INVALID_ALIAS", "an alias is 1-64 of [a-z0-9._-]"};
  const auto& sources = data_source_names();
  if (std::find(sources.begin(), sources.end(), alias) != sources.end())
    return Error{"INVALID_ALIAS", "\"" + std::string(alias) + "\" is a data source's own name"};
  return Ok();
}

json columns_json(const std::vector<Column>& columns) {
  json out = json::array();
  for (const Column& c : columns) out.push_back({{"name", c.name}, {"type", c.type}});
  return out;
}

json table_json(const TableSchema& table) {
  return {{"name", table.name}, {"columns", columns_json(table.columns)}};
}

Result<RowQuery> parse_row_query(const std::map<std::string, std::string>& query) {
  RowQuery q;
  for (const auto& [key, value] : query) {
    if (key == "limit") {
      auto v = parse_count(value, 1, kMaxRowLimit);
      if (!v)
        return Error{"INVALID_LIMIT", "limit must be an integer 1-" + std::to_string(kMaxRowLimit)};
      q.limit = *v;
    } else if (key == "offset") {
      auto v = parse_count(value, 0, kMaxRowOffset);
      if (!v)
        return Error{"INVALID_OFFSET",
                     "offset must be an integer 0-" + std::to_string(kMaxRowOffset)};
      q.offset = *v;
    } else {
      if (!is_column_name(key))
        return Error{"INVALID_FILTER", "a filter names a column: 1-64 of [a-z0-9_]"};
      if (value.size() > 1024)
        return Error{"INVALID_FILTER", "the filter on \"" + key + "\" is over 1024 characters"};
      q.filter[key] = value;
    }
  }
  return q;
}

std::string value_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";  // as the agent's engine tables compare it
  return value.dump();
}

Result<json> page_rows(const TableSchema& table, const std::vector<json>& rows,
                       const RowQuery& query) {
  for (const auto& [column, _] : query.filter) {
    auto known = std::find_if(table.columns.begin(), table.columns.end(),
                              [&](const Column& c) { return c.name == column; });
    if (known == table.columns.end())
      return Error{"UNKNOWN_COLUMN",
                   "table \"" + table.name + "\" has no column \"" + column + "\""};
  }
  json page = json::array();
  int64_t total = 0;
  for (const json& row : rows) {
    bool match = true;
    for (const auto& [column, value] : query.filter) {
      auto it = row.find(column);
      match = match && value_text(it == row.end() ? json(nullptr) : *it) == value;
    }
    if (!match) continue;
    if (total >= query.offset && total - query.offset < query.limit) page.push_back(row);
    ++total;
  }
  return json{{"table", table.name},     {"columns", columns_json(table.columns)},
              {"rows", std::move(page)}, {"total", total},
              {"limit", query.limit},    {"offset", query.offset}};
}

json action_json(const ServiceAction& action) {
  json params = json::array();
  for (const ActionParameter& p : action.parameters)
    params.push_back({{"name", p.name},
                      {"type", p.type},
                      {"required", p.required},
                      {"description", p.description}});
  return {{"name", action.name}, {"description", action.description}, {"parameters", params}};
}

const std::vector<ServiceAction>& engine_actions() {
  static const std::vector<ServiceAction> actions = {
      {"resync",
       "the cell reads its whole policy from the server now and answers with the outcome, the "
       "revision it then holds and how long it took",
       {}},
      {"flush-flows",
       "forgets the cell's flow entries (replies admitted as part of a flow an endpoint opened): "
       "all of them, or one device's",
       {{"device", "object", false,
         "{namespace, interface_name}: only this device's flows; all flows when absent"}}},
      {"reload-device",
       "reinstalls the programs and the allowed sources of one device from what the agent knows",
       {{"device", "object", true, "{namespace, interface_name} of the device"}}},
  };
  return actions;
}

Result<json> engine_action_body(std::string_view action, const json& body) {
  const auto& actions = engine_actions();
  auto it = std::find_if(actions.begin(), actions.end(),
                         [&](const ServiceAction& a) { return a.name == action; });
  if (it == actions.end())
    return Error{"ACTION_NOT_FOUND", "a policy engine has no action \"" + std::string(action) +
                                         "\" (resync, flush-flows, reload-device)"};
  json out = json::object();
  for (const auto& [key, value] : body.items()) {
    auto p = std::find_if(it->parameters.begin(), it->parameters.end(),
                          [&](const ActionParameter& a) { return a.name == key; });
    if (p == it->parameters.end())
      return Error{"UNKNOWN_FIELD",
                   "action \"" + it->name + "\" takes no parameter \"" + key + "\""};
    WT_TRY(device, device_value(value));
    out[key] = std::move(*device);
  }
  for (const ActionParameter& p : it->parameters)
    if (p.required && !out.contains(p.name))
      return Error{"MISSING_FIELD",
                   "action \"" + it->name + "\" needs the parameter \"" + p.name + "\""};
  return out;
}

std::optional<std::string> app_column_for(std::string_view column) {
  if (column.size() <= 4 || !column.ends_with("_tag")) return std::nullopt;
  return std::string(column.substr(0, column.size() - 4)) + "_app";
}

std::optional<std::string> tag_column_for(std::string_view column) {
  if (column.size() <= 4 || !column.ends_with("_app")) return std::nullopt;
  return std::string(column.substr(0, column.size() - 4)) + "_tag";
}

json with_app_columns(const json& columns) {
  json out = json::array();
  if (!columns.is_array()) return out;
  for (const json& c : columns) {
    out.push_back(c);
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) continue;
    if (auto app = app_column_for(c["name"].get<std::string>()))
      out.push_back({{"name", *app}, {"type", "string"}});
  }
  return out;
}

namespace {

std::vector<std::string> tag_columns(const json& columns) {
  std::vector<std::string> out;
  if (!columns.is_array()) return out;
  for (const json& c : columns)
    if (c.is_object() && c.contains("name") && c["name"].is_string() &&
        app_column_for(c["name"].get<std::string>()))
      out.push_back(c["name"].get<std::string>());
  return out;
}

std::optional<uint32_t> tag_value(const json& v) {
  if (!v.is_number_unsigned() && !v.is_number_integer()) return std::nullopt;
  if (v.is_number_integer() && v.get<int64_t>() < 0) return std::nullopt;
  const uint64_t t = v.get<uint64_t>();
  if (t == 0 || t > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(t);
}

}  // namespace

std::set<uint32_t> tags_in_rows(const json& columns, const json& rows) {
  std::set<uint32_t> out;
  if (!rows.is_array()) return out;
  const auto tags = tag_columns(columns);
  for (const json& row : rows) {
    if (!row.is_object()) continue;
    for (const std::string& c : tags)
      if (auto it = row.find(c); it != row.end())
        if (auto t = tag_value(*it)) out.insert(*t);
  }
  return out;
}

void add_app_values(const json& columns, json& rows,
                    const std::function<std::optional<std::string>(uint32_t)>& guid_of) {
  if (!rows.is_array()) return;
  const auto tags = tag_columns(columns);
  for (json& row : rows) {
    if (!row.is_object()) continue;
    for (const std::string& c : tags) {
      std::optional<std::string> guid;
      if (auto it = row.find(c); it != row.end())
        if (auto t = tag_value(*it)) guid = guid_of(*t);
      row[*app_column_for(c)] = guid ? json(*guid) : json(nullptr);
    }
  }
}

}  // namespace wiretag
