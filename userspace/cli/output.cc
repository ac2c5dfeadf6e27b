#include "cli/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>

#include "common/yaml_json.h"

namespace wiretag::cli {

using nlohmann::json;

std::string cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string out;
    for (const auto& v : value) out += (out.empty() ? "" : ",") + cell(v);
    return out.empty() ? "-" : out;
  }
  return value.dump();
}

std::string cell(const json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key)) return "-";
  return cell(object.at(key));
}

void print_table(const Table& table) {
  std::vector<size_t> width(table.columns.size(), 0);
  for (size_t i = 0; i < table.columns.size(); ++i) width[i] = table.columns[i].size();
  for (const auto& row : table.rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      if (upper) std::transform(c.begin(), c.end(), c.begin(), ::toupper);
      if (i + 1 < width.size()) c.resize(width[i], ' ');
      out += c;
      if (i + 1 < width.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::cout << out << '\n';
  };
  line(table.columns, true);
  for (const auto& row : table.rows) line(row, false);
  std::cout.flush();
}

void print(const json& value, OutputFormat format,
           const std::function<Table(const json&)>& as_table) {
  switch (format) {
    case OutputFormat::Json:
      std::cout << value.dump(2) << std::endl;
      break;
    case OutputFormat::Yaml:
      std::cout << json_to_yaml(value) << std::flush;
      break;
    case OutputFormat::Table:
      print_table(as_table(value));
      break;
  }
}

}  // namespace wiretag::cli
