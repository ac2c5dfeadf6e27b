// The cell engine's tables (the services API, api/internal.yaml ops "tables" and "rows"): the
// datapath's BPF maps decoded by the field names of wiretag/abi.h and read live at each
// request. Tag columns are named *_tag and hold the tag as a number (the server adds the
// app guids); devices are named by their namespace and interface_name as in the Plugin API.
//   endpoints  one row per `endpoints` entry (the endpoint's config)
//   devices    one row per `devices` entry (what the programs are attached to)
//   rules      the policy entries: a src_policy entry's all-protocol, ICMP and all-port
//              rules, and each port_policy entry (a port prefix), of both generations
//   flows      one row per `flows` entry (flows the endpoints originated)
//   counters   packets and bytes per endpoint, direction, reason and verdict (counters and
//              slot_counters merged, per-CPU values summed)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agent/cell_requests.h"
#include "datapath/datapath.h"
#include "wiretag/result.h"

namespace wiretag::agent {

struct TableColumn {
  std::string name;
  std::string type;  // integer | string | boolean (a value may also be null)
};

struct TableSchema {
  std::string name;
  std::vector<TableColumn> columns;
};

// The tables a cell engine has, in order.
const std::vector<TableSchema>& engine_tables();
// The "tables" op's answer: {"tables":[{"name","columns":[{"name","type"}]}]}.
nlohmann::json tables_json();

// A "rows" request: {"table","filter":{"<column>":"<value>"},"limit","offset"}.
struct RowQuery {
  const TableSchema* table = nullptr;
  std::vector<std::pair<std::string, std::string>> filter;  // column, value as text
  size_t limit = 100;
  size_t offset = 0;
};
constexpr size_t kMaxRowLimit = 10000;

// TABLE_NOT_FOUND, UNKNOWN_COLUMN (a filter's column), INVALID_LIMIT (not 0..kMaxRowLimit),
// INVALID_OFFSET (not a non-negative integer), and the body's own field errors.
Result<RowQuery> parse_row_query(const nlohmann::json& body);

// A value as a filter compares it: strings as they are, numbers in decimal, booleans
// true/false, null as the empty string.
std::string cell_text(const nlohmann::json& value);

// The "rows" op's answer for rows read from the query's table: those whose columns equal
// every filter value, sorted by their columns in order, `offset` skipped, at most `limit`;
// "total" counts every matching row.
nlohmann::json select_rows(const RowQuery& query, std::vector<nlohmann::json> rows);

// The rows of one table (engine_tables()) read from the maps now, unsorted.
std::vector<nlohmann::json> read_table(const datapath::Datapath& dp, const std::string& table);

// How full each hash map is: {"<map>":{"entries":E,"capacity":C}} (status "map_fill").
nlohmann::json map_fill(const datapath::Datapath& dp);

// Registers the "tables" and "rows" ops.
void add_table_ops(CellRequests& requests, const datapath::Datapath& dp);

}  // namespace wiretag::agent
