// How the CLI prints what it read: a table for people (the default), or the API's JSON or
// YAML for scripts (`-o json|yaml`). Every read command builds the JSON it prints and a
// Table view of it, so that the three formats always show the same data.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace wiretag::cli {

enum class OutputFormat { Table, Json, Yaml };

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  void add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
};

// A JSON value as one table cell: strings as they are, null as "-", arrays joined by ",",
// objects as compact JSON.
std::string cell(const nlohmann::json& value);
// value[key] as a cell, "-" when absent.
std::string cell(const nlohmann::json& object, const std::string& key);

// Prints `value` in `format`; for Table, the table that `as_table` makes of it (columns
// aligned, headers upper-case).
void print(const nlohmann::json& value, OutputFormat format,
           const std::function<Table(const nlohmann::json&)>& as_table);
// Prints a table (left-aligned columns separated by two spaces).
void print_table(const Table& table);

}  // namespace wiretag::cli
