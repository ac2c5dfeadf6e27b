// The server's own data sources of the services API (seed 001: a data source is a service
// whose tables hold ground facts and which takes no policy): apps, cells, policies and PDP
// groups, as tables read from the policy graph, the store, the PAP and the cell registry.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/cell_registry.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "core/service_catalog.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

// Whose rows a reader sees: every account's (admin), or those of the accounts named.
struct ReaderScope {
  bool all = false;
  std::vector<std::string> accounts;
  bool sees(std::string_view account) const;
};

class DataSources {
 public:
  DataSources(Store& store, PolicyGraph& graph, Pap& pap, CellRegistry& cells)
      : store_(store), graph_(graph), pap_(pap), cells_(cells) {}

  // The tables of a data source (a name from data_source_names()), in listing order.
  static const std::vector<TableSchema>& tables(std::string_view source);
  // apps and policies hold rows of accounts, so a reader scoped to accounts reads its own;
  // cells and groups are the platform's and need an admin.
  static bool readable_by_accounts(std::string_view source);

  // page_rows() of the table, with only the rows the scope sees. TABLE_NOT_FOUND.
  Result<nlohmann::json> rows(std::string_view source, std::string_view table,
                              const RowQuery& query, const ReaderScope& scope);
  // {"<table>": rows the scope sees, …}.
  Result<nlohmann::json> row_counts(std::string_view source, const ReaderScope& scope);

 private:
  Result<std::vector<nlohmann::json>> all_rows(std::string_view table, const ReaderScope& scope);

  Store& store_;
  PolicyGraph& graph_;
  Pap& pap_;
  CellRegistry& cells_;
};

}  // namespace wiretag
