#include "core/data_sources.h"

#include <algorithm>
#include <map>

#include "core/account_policies.h"

namespace wiretag {

using nlohmann::json;

namespace {

const std::map<std::string, std::vector<TableSchema>, std::less<>>& schemas() {
  static const std::map<std::string, std::vector<TableSchema>, std::less<>> all = {
      {"apps",
       {{"apps",
         {{"guid", "string"},
          {"account", "string"},
          {"tag", "integer"},
          {"wire_bytes", "string"}}}}},
      {"cells",
       {{"cells",
         {{"name", "string"},
          {"pdp_type", "string"},
          {"group", "string"},
          {"subgroup", "string"},
          {"state", "string"},
          {"health", "string"},
          {"healthy", "boolean"},
          {"expired", "boolean"},
          {"last_heartbeat_ms", "integer"},
          {"revision", "integer"},
          {"endpoints", "integer"}}},
        {"hosted_apps", {{"cell", "string"}, {"app", "string"}}}}},
      {"policies",
       {{"policies",
         {{"id", "string"},
          {"account", "string"},
          {"refid", "string"},
          {"name", "string"},
          {"version", "integer"},
          {"rules", "integer"}}}}},
      {"groups",
       {{"groups", {{"name", "string"}, {"state", "string"}, {"description", "string"}}},
        {"subgroups",
         {{"group", "string"},
          {"pdp_type", "string"},
          {"desired_instances", "integer"},
          {"current_instances", "integer"}}},
        {"deployments",
         {{"group", "string"},
          {"pdp_type", "string"},
          {"policy", "string"},
          {"version", "string"},
          {"deployed_at_ms", "integer"}}}}},
  };
  return all;
}

const TableSchema* find_table(std::string_view source, std::string_view table) {
  const auto& tables = DataSources::tables(source);
  auto it = std::find_if(tables.begin(), tables.end(),
                         [&](const TableSchema& t) { return t.name == table; });
  return it == tables.end() ? nullptr : &*it;
}

json optional_json(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

bool ReaderScope::sees(std::string_view account) const {
  return all || std::find(accounts.begin(), accounts.end(), account) != accounts.end();
}

const std::vector<TableSchema>& DataSources::tables(std::string_view source) {
  static const std::vector<TableSchema> none;
  auto it = schemas().find(source);
  return it == schemas().end() ? none : it->second;
}

bool DataSources::readable_by_accounts(std::string_view source) {
  return source == "apps" || source == "policies";
}

Result<json> DataSources::rows(std::string_view source, std::string_view table,
                               const RowQuery& query, const ReaderScope& scope) {
  const TableSchema* schema = find_table(source, table);
  if (!schema)
    return Error{"TABLE_NOT_FOUND", "service \"" + std::string(source) + "\" has no table \"" +
                                        std::string(table) + "\""};
  WT_TRY(rows, all_rows(table, scope));
  return page_rows(*schema, *rows, query);
}

Result<json> DataSources::row_counts(std::string_view source, const ReaderScope& scope) {
  json out = json::object();
  for (const TableSchema& t : tables(source)) {
    WT_TRY(rows, all_rows(t.name, scope));
    out[t.name] = rows->size();
  }
  return out;
}

Result<std::vector<json>> DataSources::all_rows(std::string_view table, const ReaderScope& scope) {
  std::vector<json> out;
  if (table == "apps") {
    WT_TRY(apps, graph_.apps(std::nullopt));
    for (const AppRecord& a : *apps)
      if (scope.sees(a.account))
        out.push_back({{"guid", a.guid},
                       {"account", a.account},
                       {"tag", a.tag},
                       {"wire_bytes", graph_.tags().wire_bytes(a.tag)}});
  } else if (table == "cells" || table == "hosted_apps") {
    for (const Cell& c : cells_.list()) {
      const CellReport& r = c.report;
      if (table == "hosted_apps") {
        for (const std::string& app : r.hosted_apps)
          out.push_back({{"cell", r.name}, {"app", app}});
        continue;
      }
      out.push_back({{"name", r.name},
                     {"pdp_type", r.pdp_type},
                     {"group", r.pdp_group},
                     {"subgroup", r.pdp_subgroup},
                     {"state", r.state},
                     {"health", r.healthy},
                     {"healthy", c.healthy},
                     {"expired", c.expired},
                     {"last_heartbeat_ms", c.last_heartbeat_ms},
                     {"revision", optional_json(r.revision)},
                     {"endpoints", r.datapath ? json(r.datapath->endpoints) : json(nullptr)}});
    }
  } else if (table == "policies") {
    WT_TRY(records, store_.read<std::vector<PolicyRecord>>(
                        [&](StoreTx& tx) -> Result<std::vector<PolicyRecord>> {
                          WT_TRY(accounts, tx.list_accounts());
                          std::vector<PolicyRecord> all;
                          for (const std::string& a : *accounts) {
                            if (!scope.sees(a)) continue;
                            WT_TRY(some, tx.list_policies(a));
                            for (PolicyRecord& p : *some) all.push_back(std::move(p));
                          }
                          return all;
                        }));
    for (const PolicyRecord& p : *records) {
      WT_TRY(policy, policy_from_record(p));
      out.push_back({{"id", p.id},
                     {"account", p.account},
                     {"refid", p.refid ? json(*p.refid) : json(nullptr)},
                     {"name", p.name},
                     {"version", p.version},
                     {"rules", policy->rules.size()}});
    }
  } else if (table == "groups" || table == "subgroups") {
    WT_TRY(groups, pap_.groups());
    for (const GroupView& g : *groups) {
      if (table == "groups") {
        out.push_back({{"name", g.record.name},
                       {"state", g.record.state},
                       {"description", g.record.description}});
        continue;
      }
      for (const SubgroupView& s : g.subgroups)
        out.push_back({{"group", g.record.name},
                       {"pdp_type", s.record.pdp_type},
                       {"desired_instances", s.record.desired_instances},
                       {"current_instances", s.current_instances}});
    }
  } else if (table == "deployments") {
    WT_TRY(deployments, store_.read<std::vector<DeploymentRecord>>(
                            [](StoreTx& tx) { return tx.list_deployments(); }));
    for (const DeploymentRecord& d : *deployments)
      out.push_back({{"group", d.group},
                     {"pdp_type", d.pdp_type},
                     {"policy", d.policy},
                     {"version", d.version},
                     {"deployed_at_ms", d.deployed_at_ms}});
  }
  return out;
}

}  // namespace wiretag
