// `wiretag maps list` and `wiretag maps dump [MAP]`: the pinned maps of this host's
// datapath, decoded by field name (datapath/map_dump.h). Read-only: nothing is loaded.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "datapath/map_dump.h"

namespace wiretag::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Rows of objects as a table: one column per field, in the decoder's order (that of the
// first row).
Table table_of(const ordered_json& rows) {
  Table t;
  if (rows.empty()) return t;
  for (const auto& [key, value] : rows.front().items()) t.columns.push_back(key);
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (const auto& c : t.columns) line.push_back(row.contains(c) ? cell(json(row[c])) : "-");
    t.add(std::move(line));
  }
  return t;
}

// -o json|yaml: the rows as they are; the table view keeps the decoders' column order.
void show_rows(const ordered_json& rows) {
  if (globals().output != OutputFormat::Table) return show(json(rows), nullptr);
  if (!rows.empty()) print_table(table_of(rows));
}

}  // namespace

void add_maps_commands(CLI::App& app, datapath::Options& options) {
  auto* maps = app.add_subcommand("maps",
                                  "the pinned BPF maps of this host's datapath, read without "
                                  "loading anything");
  maps->require_subcommand(1);
  {
    auto* c = maps->add_subcommand("list",
                                   "each map: type, key and value sizes, entries in use and "
                                   "capacity");
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
      show_rows(rows);
    });
  }
  {
    static std::string name;
    auto* c = maps->add_subcommand(
        "dump",
        "every entry of every map, or of MAP, by field name (tags in hex, devices by name, "
        "reasons and protocols by name, per-CPU counters summed); -o json: {map: [rows]}");
    c->add_option("MAP", name, "one map, by its pinned name (see `wiretag maps list`)");
    c->callback([&options] {
      auto dp = open_pinned(options);
      std::vector<std::string> names;
      if (!name.empty()) names.push_back(name);
      for (const auto& m : dp->maps())
        if (name.empty()) names.push_back(m.name);
      ordered_json out = ordered_json::object();
      for (const auto& n : names) {
        auto rows = datapath::dump_map(*dp, n, options.tag_length);
        if (!rows) api_error(rows.error());
        out[n] = std::move(*rows);
      }
      if (globals().output != OutputFormat::Table) return show(json(out), nullptr);
      bool first = true;
      for (const auto& [map, rows] : out.items()) {
        std::printf("%s%s (%zu)\n", first ? "" : "\n", map.c_str(), rows.size());
        if (!rows.empty()) print_table(table_of(rows));
        first = false;
      }
    });
  }
}

}  // namespace wiretag::cli
