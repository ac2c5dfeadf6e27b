// The services API's vocabulary (SPEC §4.6, seed 001's service-based proposal): every cell's
// policy engine ("cell:<name>") and the server's data sources ("apps", "cells", "policies",
// "groups") answer the same questions (tables, rows, status, actions, policies). Here: service
// ids, table schemas, row queries (filter by column, limit, offset) and pages, the engines'
// actions and their parameters, and the app columns the server adds beside an engine's tag
// columns. No HTTP, no store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kEngineServicePrefix = "cell:";

enum class ServiceType { PolicyEngine, DataSource };
std::string_view to_string(ServiceType type);  // "policy-engine", "datasource"
std::optional<ServiceType> parse_service_type(std::string_view text);

// The server's own data sources, in listing order.
const std::vector<std::string>& data_source_names();

struct ServiceId {
  ServiceType type = ServiceType::DataSource;
  std::string name;  // the cell's name for an engine, the data source's name otherwise
  std::string id() const;
};

// "cell:<cell name>" or a data source's name. INVALID_SERVICE_ID when it cannot name a service
// (1-140 of [A-Za-z0-9._:-], and a cell name after "cell:"); SERVICE_NOT_FOUND for a
// well-formed name that is neither.
Result<ServiceId> parse_service_id(std::string_view id);

// An alias names a service so that callers need not know which one it is today: 1-64 of
// [a-z0-9._-], not a data source's name (and so never holding the ':' of "cell:").
// INVALID_ALIAS otherwise.
Result<void> check_alias(std::string_view alias);

struct Column {
  std::string name;
  std::string type;  // "string", "integer", "boolean"
};

struct TableSchema {
  std::string name;
  std::vector<Column> columns;
};

nlohmann::json columns_json(const std::vector<Column>& columns);
nlohmann::json table_json(const TableSchema& table);

inline constexpr int64_t kDefaultRowLimit = 100;
inline constexpr int64_t kMaxRowLimit = 1000;
inline constexpr int64_t kMaxRowOffset = 1'000'000'000;

// Which rows of a table: equal to every filter (column → value as text), then `offset` rows
// skipped, at most `limit` given.
struct RowQuery {
  std::map<std::string, std::string> filter;
  int64_t limit = kDefaultRowLimit;
  int64_t offset = 0;
};

// From a query string: "limit" (1-1000, default 100) and "offset" (0-1e9, default 0); every
// other key filters the column it names. INVALID_LIMIT, INVALID_OFFSET, INVALID_FILTER (a
// column name that is not 1-64 of [a-z0-9_]).
Result<RowQuery> parse_row_query(const std::map<std::string, std::string>& query);

// A value as a filter compares it: strings as they are, numbers in decimal, true/false,
// null as "" (as the agent's engine tables do).
std::string value_text(const nlohmann::json& value);

// The page of `rows` (objects keyed by column name) the query asks for:
// {"table","columns":[{name,type}],"rows":[…],"total":<rows matching>,"limit","offset"}.
// UNKNOWN_COLUMN for a filter on a column the table does not have.
Result<nlohmann::json> page_rows(const TableSchema& table, const std::vector<nlohmann::json>& rows,
                                 const RowQuery& query);

// An action a service can run, and what it takes.
struct ActionParameter {
  std::string name;
  std::string type;  // "object", "string"
  bool required = false;
  std::string description;
};

struct ServiceAction {
  std::string name;
  std::string description;
  std::vector<ActionParameter> parameters;
};

nlohmann::json action_json(const ServiceAction& action);

// resync, flush-flows, reload-device (the agent ops of the same names).
const std::vector<ServiceAction>& engine_actions();

// The body of the agent op for an engine action from the caller's body (an object):
// ACTION_NOT_FOUND, UNKNOWN_FIELD, MISSING_FIELD, INVALID_FIELD_TYPE, INVALID_DEVICE.
Result<nlohmann::json> engine_action_body(std::string_view action, const nlohmann::json& body);

// Tag columns of an engine's tables are named "<x>_tag" and hold the tag as a number; the
// server adds "<x>_app" (the app guid holding that tag, or null) right after each.
std::optional<std::string> app_column_for(std::string_view column);  // "src_tag" → "src_app"
std::optional<std::string> tag_column_for(std::string_view column);  // "src_app" → "src_tag"
// The columns (a JSON array of {name,type}) with an app column after each tag column.
nlohmann::json with_app_columns(const nlohmann::json& columns);
// The tags the rows hold in the tag columns (numbers other than 0).
std::set<uint32_t> tags_in_rows(const nlohmann::json& columns, const nlohmann::json& rows);
// Sets each row's app columns: guid_of(tag), or null for tag 0, a tag no app holds or a value
// that is not a tag.
void add_app_values(const nlohmann::json& columns, nlohmann::json& rows,
                    const std::function<std::optional<std::string>(uint32_t)>& guid_of);

}  // namespace wiretag
