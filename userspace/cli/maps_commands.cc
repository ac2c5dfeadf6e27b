#include "cli/maps_commands.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/endpoint_commands.h"
#include "datapath/map_dump.h"

namespace wiretag::cli {
namespace {

using nlohmann::ordered_json;

std::string cell_text(const ordered_json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + cell_text(e);
    return out.empty() ? "-" : out;
  }
  return v.dump();
}

// Rows of objects as a table: one column per field, in the order of the first row.
void print_table(const ordered_json& rows) {
  if (rows.empty()) return;
  std::vector<std::string> columns;
  for (const auto& [key, value] : rows.front().items()) columns.push_back(key);
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width;
  for (const auto& c : columns) width.push_back(c.size());
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < columns.size(); ++i) {
      line.push_back(cell_text(row.contains(columns[i]) ? row[columns[i]] : ordered_json()));
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
      std::string cell = line[i];
      if (i + 1 < line.size()) cell.resize(width[i] + 2, ' ');
      out += cell;
    }
    std::printf("%s\n", out.c_str());
  };
  std::vector<std::string> header;
  for (const auto& c : columns) {
    std::string h = c;
    std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    header.push_back(h);
  }
  print_line(header);
  for (const auto& line : cells) print_line(line);
}

// The one place these commands print: a table, or JSON for -o json.
// TODO(issue 15): the global -o of userspace/cli/output.h once it is on main.
void print(const std::string& format, const ordered_json& value, bool sections) {
  if (format == "json") {
    std::printf("%s\n", value.dump(2).c_str());
    return;
  }
  if (!sections) return print_table(value);
  bool first = true;
  for (const auto& [name, rows] : value.items()) {
    std::printf("%s%s (%zu)\n", first ? "" : "\n", name.c_str(), rows.size());
    print_table(rows);
    first = false;
  }
}

}  // namespace

void add_maps_commands(CLI::App& app, datapath::Options& options) {
  auto* maps = app.add_subcommand("maps",
                                  "the pinned BPF maps of this host's datapath, read "
                                  "without loading anything");
  maps->require_subcommand(1);
  static std::string format = "table";
  {
    auto* c = maps->add_subcommand("list",
                                   "each map: type, key and value sizes, entries in use "
                                   "and capacity");
    c->add_option("-o,--output", format, "table | json")->check(CLI::IsMember({"table", "json"}));
    c->callback([&options] {
      auto dp = open_pinned(options);
      ordered_json rows = ordered_json::array();
      for (const auto& m : datapath::list_maps(*dp))
        rows.push_back(
            {{"name", m.name},
             {"type", m.type},
             {"key_size", m.key_size},
             {"value_size", m.value_size},
             {"entries", m.entries < 0 ? ordered_json(nullptr) : ordered_json(m.entries)},
             {"capacity", m.capacity}});
      print(format, rows, false);
    });
  }
  {
    static std::string name;
    auto* c = maps->add_subcommand(
        "dump",
        "every entry of every map, or of MAP, by field name (tags in hex, devices by "
        "name, reasons and protocols by name, per-CPU counters summed)");
    c->add_option("MAP", name, "one map, by its pinned name (see `wiretag maps list`)");
    c->add_option("-o,--output", format, "table | json")->check(CLI::IsMember({"table", "json"}));
    c->callback([&options] {
      auto dp = open_pinned(options);
      ordered_json out = ordered_json::object();
      std::vector<std::string> names;
      if (!name.empty()) names.push_back(name);
      for (const auto& m : dp->maps())
        if (name.empty()) names.push_back(m.name);
      for (const auto& n : names) {
        auto rows = datapath::dump_map(*dp, n, options.tag_length);
        if (!rows) fail(rows.error());
        out[n] = std::move(*rows);
      }
      print(format, out, true);
    });
  }
}

}  // namespace wiretag::cli
