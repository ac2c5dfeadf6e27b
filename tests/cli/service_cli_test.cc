// `wiretag service …` (the services API) against the real server; an engine's cell played by
// the test (tests/server/fake_cell.h) answers the ops the CLI's requests send it.
#include <gtest/gtest.h>

#include <future>

#include "cli_runner.h"
#include "fake_cell.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class ServiceCli : public CliServerTest {
 protected:
  CliResult ok(std::vector<std::string> args) {
    auto r = cli(std::move(args));
    EXPECT_EQ(r.status, 0) << describe(r);
    return r;
  }
  // Exit 1 and the error code on stderr.
  void fails(std::vector<std::string> args, const std::string& code) {
    auto r = cli(args);
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_NE(r.err.find(code), std::string::npos) << describe(r);
  }
  std::unique_ptr<FakeCell> fake_cell(const std::string& name) {
    auto t = s().post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", name}}.dump());
    EXPECT_EQ(t.status, 201) << t.body;
    auto c = std::make_unique<FakeCell>(s().port(), t.json().value("token", ""), name);
    EXPECT_EQ(c->status().status, 200) << c->status().body;
    EXPECT_TRUE(c->changes(1));
    return c;
  }
};

TEST_F(ServiceCli, ListTablesRowsStatus) {
  ok({"app", "register", "a1"});
  ok({"app", "register", "a2"});
  auto list = ok({"service", "list", "--type", "datasource"});
  EXPECT_TRUE(has_row(list.out, {"apps", "datasource", "-", "-", "-", "-"})) << list.out;
  EXPECT_TRUE(has_row(list.out, {"groups", "datasource", "-", "-", "-", "-"})) << list.out;
  auto tables = ok({"service", "tables", "-s", "apps"});
  EXPECT_TRUE(
      has_row(tables.out, {"apps", "guid:string,account:string,tag:integer,wire_bytes:string"}))
      << tables.out;
  auto rows = ok({"service", "rows", "apps", "-s", "apps", "--where", "account=default", "--limit",
                  "1", "--offset", "1", "-o", "json"});
  EXPECT_EQ(rows.json()["total"], 2);
  ASSERT_EQ(rows.json()["rows"].size(), 1u);
  EXPECT_EQ(rows.json()["rows"][0]["guid"], "a2");
  auto table = ok({"service", "rows", "apps", "-s", "apps", "-w", "guid=a1"});
  EXPECT_EQ(table_rows(table.out)[0][0], "GUID") << table.out;
  EXPECT_EQ(table_rows(table.out)[1][0], "a1") << table.out;
  auto status = ok({"service", "status", "-s", "apps"});
  EXPECT_TRUE(has_row(status.out, {"rows.apps", "2"})) << status.out;
  fails({"service", "rows", "apps", "-s", "apps", "--limit", "5000"}, "INVALID_LIMIT");
  fails({"service", "rows", "apps", "-s", "apps", "-w", "nosuch=1"}, "UNKNOWN_COLUMN");
  fails({"service", "tables", "-s", "nosuch"}, "SERVICE_NOT_FOUND");
  fails({"service", "policies", "-s", "apps"}, "SERVICE_HAS_NO_POLICIES");
  fails({"service", "act", "resync", "-s", "apps"}, "ACTION_NOT_FOUND");
  auto usage = cli({"service", "rows", "apps", "-s", "apps", "-w", "novalue"});
  EXPECT_EQ(usage.status, 2) << describe(usage);
}

TEST_F(ServiceCli, DefaultServiceAndAliases) {
  fails({"service", "default"}, "DEFAULT_SERVICE_NOT_FOUND");
  fails({"service", "tables"}, "DEFAULT_SERVICE_NOT_FOUND");
  ok({"service", "alias", "engine", "cell:c1"});
  auto aliases = ok({"service", "alias"});
  EXPECT_TRUE(has_row(aliases.out, {"engine", "cell:c1"})) << aliases.out;
  ok({"service", "default", "groups"});
  auto shown = ok({"service", "default", "-o", "json"});
  EXPECT_EQ(shown.json(), (json{{"service", "groups"}, {"resolved", "groups"}}));
  auto tables = ok({"service", "tables"});
  EXPECT_TRUE(has_row(tables.out, {"groups", "name:string,state:string,description:string"}))
      << tables.out;
  ok({"service", "default", "--unset"});
  fails({"service", "default"}, "DEFAULT_SERVICE_NOT_FOUND");
  ok({"service", "alias", "engine", "--delete"});
  EXPECT_EQ(ok({"service", "alias", "-o", "json"}).json()["aliases"], json::array());
  fails({"service", "alias", "Bad!", "apps"}, "INVALID_ALIAS");
  EXPECT_EQ(cli({"service", "default", "apps", "--unset"}).status, 2);
}

TEST_F(ServiceCli, AnEnginesActionsAndRowsGoToItsCell) {
  auto cell = fake_cell("c1");
  auto actions = ok({"service", "actions", "-s", "cell:c1"});
  EXPECT_EQ(table_rows(actions.out)[3][0], "reload-device") << actions.out;
  EXPECT_EQ(table_rows(actions.out)[3][1], "device") << actions.out;
  auto acted = std::async(std::launch::async, [&] {
    return cli({"service", "act", "flush-flows", "-s", "cell:c1", "--netns", "/var/run/netns/x",
                "--dev", "veth1", "-o", "json"});
  });
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req["op"], "flush-flows");
  EXPECT_EQ(req["body"],
            (json{{"device", {{"namespace", "/var/run/netns/x"}, {"interface_name", "veth1"}}}}));
  cell->reply(req["id"], json{{"result", {{"flushed", 3}}}});
  auto r = acted.get();
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["result"]["flushed"], 3);
  auto listed = std::async(std::launch::async, [&] {
    return cli({"service", "rows", "rules", "-s", "cell:c1", "--limit", "2"});
  });
  req = cell->request(1);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req["body"]["limit"], 2);
  cell->reply(req["id"], json{{"result",
                               {{"table", "rules"},
                                {"columns",
                                 {{{"name", "ifindex"}, {"type", "integer"}},
                                  {{"name", "src_tag"}, {"type", "integer"}}}},
                                {"rows", {{{"ifindex", 7}, {"src_tag", 0}}}},
                                {"total", 1}}}});
  r = listed.get();
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(has_row(r.out, {"7", "0", "-"})) << r.out;
  EXPECT_EQ(table_rows(r.out)[0], (std::vector<std::string>{"IFINDEX", "SRC_TAG", "SRC_APP"}))
      << r.out;
  EXPECT_EQ(cli({"service", "act", "reload-device", "-s", "cell:c1", "--netns", "/x"}).status, 2);
}

}  // namespace
}  // namespace wiretag::test
