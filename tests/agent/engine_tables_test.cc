// The services API's engine ops in-process: a "rows" request parsed (its errors), rows
// filtered, ordered and paged; action bodies parsed; and the tables read from a real,
// unpinned datapath (needs root to load it).
#include "agent/engine_tables.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/engine_actions.h"
#include "datapath/datapath.h"

namespace wiretag::agent {
namespace {

using nlohmann::json;

std::string error_of(const json& body) {
  auto q = parse_row_query(body);
  return q ? "" : q.error().code;
}

std::vector<json> sample_rows() {
  std::vector<json> rows;
  for (uint32_t i = 0; i < 5; ++i)
    rows.push_back({{"ifindex", 10 - i},
                    {"namespace", "/run/netns/x"},
                    {"interface_name", "veth" + std::to_string(i)},
                    {"src_tag", i % 2},
                    {"proto", i < 3 ? "tcp" : "udp"},
                    {"port_first", 80 + i},
                    {"port_last", 80 + i},
                    {"generation", 0},
                    {"in_force", i != 4},
                    {"map", "port_policy"}});
  return rows;
}

json select(const json& body, std::vector<json> rows = sample_rows()) {
  auto q = parse_row_query(body);
  EXPECT_TRUE(q) << q.error().message;
  return q ? select_rows(*q, std::move(rows)) : json();
}

std::vector<uint32_t> ifindexes(const json& answer) {
  std::vector<uint32_t> out;
  for (const json& r : answer["rows"]) out.push_back(r["ifindex"].get<uint32_t>());
  return out;
}

TEST(EngineTables, TablesNameEveryColumnWithAType) {
  json t = tables_json()["tables"];
  std::vector<std::string> names;
  for (const json& table : t) {
    names.push_back(table["name"]);
    ASSERT_FALSE(table["columns"].empty());
    for (const json& c : table["columns"]) {
      EXPECT_TRUE(c["type"] == "integer" || c["type"] == "string" || c["type"] == "boolean") << c;
      const std::string name = c["name"];
      if (name.ends_with("_tag")) {
        EXPECT_EQ(c["type"], "integer") << table["name"] << "." << name;
      }
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"endpoints", "devices", "rules", "flows", "counters"}));
}

TEST(EngineTables, RowsAreFilteredOrderedAndPaged) {
  json all = select({{"table", "rules"}});
  EXPECT_EQ(all["table"], "rules");
  EXPECT_EQ(all["total"], 5);
  EXPECT_EQ(ifindexes(all), (std::vector<uint32_t>{6, 7, 8, 9, 10}));  // by columns in order
  EXPECT_EQ(all["columns"].size(), 10u);
  EXPECT_EQ(all["columns"][0], (json{{"name", "ifindex"}, {"type", "integer"}}));

  json tcp = select({{"table", "rules"}, {"filter", {{"proto", "tcp"}}}});
  EXPECT_EQ(tcp["total"], 3);
  EXPECT_EQ(ifindexes(tcp), (std::vector<uint32_t>{8, 9, 10}));
  // Values compare by their text: numbers and booleans too, as a query string gives them.
  EXPECT_EQ(ifindexes(select({{"table", "rules"}, {"filter", {{"src_tag", "1"}}}})),
            (std::vector<uint32_t>{7, 9}));
  EXPECT_EQ(ifindexes(select({{"table", "rules"}, {"filter", {{"in_force", "false"}}}})),
            (std::vector<uint32_t>{6}));
  EXPECT_EQ(
      ifindexes(select({{"table", "rules"}, {"filter", {{"proto", "tcp"}, {"src_tag", "0"}}}})),
      (std::vector<uint32_t>{8, 10}));
  EXPECT_EQ(select({{"table", "rules"}, {"filter", {{"proto", "icmp"}}}})["total"], 0);

  json page = select({{"table", "rules"}, {"limit", 2}, {"offset", 1}});
  EXPECT_EQ(page["total"], 5);  // every match, not only the page
  EXPECT_EQ(ifindexes(page), (std::vector<uint32_t>{7, 8}));
  EXPECT_EQ(select({{"table", "rules"}, {"offset", 5}})["rows"], json::array());
  EXPECT_EQ(select({{"table", "rules"}, {"limit", 0}})["rows"], json::array());
  EXPECT_EQ(
      select({{"table", "rules"}, {"filter", {{"proto", "udp"}}}, {"offset", 1}})["rows"].size(),
      1u);
  // The default page is 100 rows.
  std::vector<json> many(250, sample_rows()[0]);
  json first = select({{"table", "rules"}}, many);
  EXPECT_EQ(first["rows"].size(), 100u);
  EXPECT_EQ(first["total"], 250);
}

TEST(EngineTables, BadRowRequestsAreRefusedByName) {
  EXPECT_EQ(error_of({{"table", "rules"}}), "");
  EXPECT_EQ(error_of({{"table", "nope"}}), "TABLE_NOT_FOUND");
  EXPECT_EQ(error_of(json::object()), "MISSING_FIELD");
  EXPECT_EQ(error_of({{"table", 3}}), "INVALID_FIELD_TYPE");
  EXPECT_EQ(error_of({{"table", "rules"}, {"sort", "x"}}), "UNKNOWN_FIELD");
  EXPECT_EQ(error_of({{"table", "rules"}, {"filter", {{"colour", "red"}}}}), "UNKNOWN_COLUMN");
  // A column of another table is not one of this table's.
  EXPECT_EQ(error_of({{"table", "rules"}, {"filter", {{"last_seen_ns", "1"}}}}), "UNKNOWN_COLUMN");
  EXPECT_EQ(error_of({{"table", "rules"}, {"filter", "proto=tcp"}}), "INVALID_FIELD_TYPE");
  EXPECT_EQ(error_of({{"table", "rules"}, {"filter", {{"proto", json::array()}}}}),
            "INVALID_FIELD_TYPE");
  EXPECT_EQ(error_of({{"table", "rules"}, {"limit", -1}}), "INVALID_LIMIT");
  EXPECT_EQ(error_of({{"table", "rules"}, {"limit", kMaxRowLimit + 1}}), "INVALID_LIMIT");
  EXPECT_EQ(error_of({{"table", "rules"}, {"limit", "10"}}), "INVALID_LIMIT");
  EXPECT_EQ(error_of({{"table", "rules"}, {"limit", 1.5}}), "INVALID_LIMIT");
  EXPECT_EQ(error_of({{"table", "rules"}, {"limit", kMaxRowLimit}}), "");
  EXPECT_EQ(error_of({{"table", "rules"}, {"offset", -3}}), "INVALID_OFFSET");
  EXPECT_EQ(error_of({{"table", "rules"}, {"offset", "1"}}), "INVALID_OFFSET");
}

TEST(EngineActions, DeviceBodiesAreParsed) {
  auto none = action_device(json::object(), false);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto one =
      action_device({{"device", {{"namespace", "/run/netns/a"}, {"interface_name", "v1"}}}}, true);
  ASSERT_TRUE(one);
  EXPECT_EQ(**one, (datapath::Device{"/run/netns/a", "v1"}));
  EXPECT_EQ(action_device(json::object(), true).error().code, "MISSING_FIELD");
  EXPECT_EQ(action_device({{"device", "v1"}}, false).error().code, "INVALID_FIELD_TYPE");
  EXPECT_EQ(action_device({{"device", {{"interface_name", "v1"}}}}, false).error().code,
            "MISSING_FIELD");
  EXPECT_EQ(action_device({{"dev", 1}}, false).error().code, "UNKNOWN_FIELD");
}

// The tables of a real datapath (BPF_PROG_TEST_RUN needs no device: an endpoint defined on an
// ifindex), decoded by field: tags as numbers, both rule maps, one row per port prefix.
TEST(EngineTables, RulesAndEndpointsAreReadFromTheMaps) {
  datapath::Options o;
  o.pin_dir = "";
  o.max_endpoints = 4;
  o.max_policy_entries = 1024;
  o.max_flows = 64;
  o.stale_reaper = false;
  auto dp = datapath::Datapath::open(o);
  ASSERT_TRUE(dp) << dp.error().message;
  datapath::EndpointSettings s;
  s.tag = 0x0203;
  ASSERT_TRUE((*dp)->define(7, s));
  ASSERT_TRUE((*dp)->replace_policy(
      7, {Rule{5, Protocol::Tcp, PortRange{8080, 8081}}, Rule{0, Protocol::Icmp, std::nullopt},
          Rule{6, Protocol::Any, std::nullopt}}));
  (*dp)->settle();
  auto ep = read_table(**dp, "endpoints");
  ASSERT_EQ(ep.size(), 1u);
  EXPECT_EQ(ep[0]["ifindex"], 7);
  EXPECT_EQ(ep[0]["endpoint_tag"], 0x0203);
  EXPECT_EQ(ep[0]["mode"], "enforce");
  EXPECT_EQ(ep[0]["interface_name"], nullptr);  // defined, not attached: no device
  auto q = parse_row_query({{"table", "rules"}});
  ASSERT_TRUE(q);
  json rules = select_rows(*q, read_table(**dp, "rules"));
  std::vector<std::string> got;
  for (const json& r : rules["rows"]) {
    EXPECT_EQ(r["in_force"], true) << r;
    got.push_back(r["src_tag"].dump() + " " + r["proto"].get<std::string>() + " " +
                  r["port_first"].dump() + "-" + r["port_last"].dump() + " " +
                  r["map"].get<std::string>());
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"0 icmp null-null src_policy", "5 tcp 8080-8081 port_policy",
                                      "6 any null-null src_policy"}));
  EXPECT_TRUE(read_table(**dp, "flows").empty());
  json fill = map_fill(**dp);
  EXPECT_EQ(fill["endpoints"]["entries"], 1);
  EXPECT_EQ(fill["endpoints"]["capacity"], 4);
  EXPECT_EQ(fill["flows"]["capacity"], 64);
  EXPECT_EQ(fill["src_policy"]["entries"], 3);
}

}  // namespace
}  // namespace wiretag::agent
