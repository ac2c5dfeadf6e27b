// `wiretag policy …` and `wiretag key …`, the real CLI against the real server over HTTP:
// policies from YAML, JSON, stdin and flags; versions; keys.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class PolicyCli : public CliServerTest {
 protected:
  CliResult ok(std::vector<std::string> args, std::map<std::string, std::string> env = {},
               std::optional<std::string> in = std::nullopt) {
    auto r = cli(std::move(args), std::move(env), std::move(in));
    EXPECT_EQ(r.status, 0) << describe(r);
    return r;
  }
  CliResult fails(std::vector<std::string> args, int status, const std::string& code = "") {
    auto r = cli(std::move(args));
    EXPECT_EQ(r.status, status) << describe(r);
    if (!code.empty()) {
      EXPECT_NE(r.err.find(code), std::string::npos) << r.err;
    }
    EXPECT_EQ(r.out, "");
    return r;
  }
};

const char* kYaml = R"(name: web-to-db
refid: ticket-7
rules:
  - source: web
    destination: db
    protocol: tcp
    ports: {start: 5432, end: 5432}
  - source: "*"
    destination: db
    protocol: icmp
)";

TEST_F(PolicyCli, CreateFromYamlGetListVersionsUpdateDelete) {
  const std::string file = write_file("p.yaml", kYaml);
  auto r = ok({"policy", "create", "--account", "acme", "-f", file, "-o", "json"});
  json p = r.json();
  EXPECT_EQ(p["name"], "web-to-db");
  EXPECT_EQ(p["refid"], "ticket-7");
  EXPECT_EQ(p["version"], 1);
  EXPECT_EQ(p["account_id"], "acme");
  ASSERT_EQ(p["rules"].size(), 2u);
  EXPECT_EQ(p["rules"][0]["ports"], (json{{"start", 5432}, {"end", 5432}}));
  const std::string id = p["id"];

  // get by id and by refid; table shows fields and rules
  EXPECT_EQ(ok({"policy", "get", id, "--account", "acme", "-o", "json"}).json(), p);
  r = ok({"policy", "get", "ticket-7", "--account", "acme"});
  EXPECT_NE(r.out.find("name: web-to-db"), std::string::npos) << r.out;
  EXPECT_TRUE(has_row(r.out, {"web", "db", "tcp", "5432"})) << r.out;
  EXPECT_TRUE(has_row(r.out, {"*", "db", "icmp", "all"})) << r.out;

  r = ok({"policy", "list", "--account", "acme"});
  EXPECT_TRUE(has_row(r.out, {id, "web-to-db", "ticket-7", "1", "2"})) << r.out;
  EXPECT_EQ(ok({"policy", "list", "--account", "acme", "-o", "json"}).json(), json::array({p}));
  EXPECT_EQ(ok({"policy", "list", "-o", "json"}).json(), json::array()) << "account default";

  // update by flags (PATCH: only what they name) then by file (PUT: the whole policy)
  r = ok({"policy", "update", id, "--account", "acme", "--name", "renamed", "-o", "json"});
  EXPECT_EQ(r.json()["version"], 2);
  EXPECT_EQ(r.json()["rules"], p["rules"]);
  EXPECT_EQ(r.json()["refid"], "ticket-7");
  r = ok({"policy", "update", id, "--account", "acme", "--rule", "web/db/udp/53", "--clear-refid",
          "-o", "json"});
  EXPECT_EQ(r.json()["version"], 3);
  EXPECT_TRUE(r.json()["refid"].is_null());
  EXPECT_EQ(r.json()["rules"], json::parse(R"([{"source":"web","destination":"db",
      "protocol":"udp","ports":{"start":53,"end":53}}])"));
  const std::string json_file =
      write_file("p.json", R"({"name":"from-json","rules":[{"source":"a","destination":"b"}]})");
  r = ok({"policy", "update", id, "--account", "acme", "-f", json_file, "-o", "json"});
  EXPECT_EQ(r.json()["version"], 4);
  EXPECT_EQ(r.json()["name"], "from-json");

  // versions, and reading an old one
  r = ok({"policy", "versions", id, "--account", "acme", "-o", "json"});
  ASSERT_EQ(r.json().size(), 4u) << r.out;
  EXPECT_EQ(r.json()[0], p);
  r = ok({"policy", "versions", id, "--account", "acme"});
  EXPECT_TRUE(has_row(r.out, {"1", "web-to-db", "ticket-7", "2"})) << r.out;
  EXPECT_TRUE(has_row(r.out, {"4", "from-json", "-", "1"})) << r.out;
  EXPECT_EQ(ok({"policy", "get", id, "--account", "acme", "--version", "1", "-o", "json"}).json(),
            p);
  r = ok({"policy", "get", id, "--account", "acme", "--version", "2", "-o", "yaml"});
  EXPECT_EQ(r.yaml()["name"].as<std::string>(), "renamed");
  EXPECT_EQ(r.yaml()["version"].as<int>(), 2);

  r = ok({"policy", "delete", id, "--account", "acme"});
  EXPECT_NE(r.out.find("deleted policy " + id), std::string::npos);
  fails({"policy", "get", id, "--account", "acme"}, 1, "POLICY_NOT_FOUND");
  EXPECT_EQ(ok({"policy", "versions", id, "--account", "acme", "-o", "json"}).json().size(), 4u)
      << "versions outlive the policy";
}

TEST_F(PolicyCli, CreateFromFlagsAndStdin) {
  auto r = ok({"policy", "create", "--name", "flags", "--refid", "r1", "--rule", "web/db/tcp/5432",
               "--rule", "*/db/udp/5000-5010", "--rule", "a/b", "-o", "json"});
  json p = r.json();
  EXPECT_EQ(p["account_id"], "default");
  EXPECT_EQ(p["rules"], json::parse(R"([
      {"source":"web","destination":"db","protocol":"tcp","ports":{"start":5432,"end":5432}},
      {"source":"*","destination":"db","protocol":"udp","ports":{"start":5000,"end":5010}},
      {"source":"a","destination":"b","protocol":"any"}])"));
  r = ok({"policy", "create", "--name", "empty", "-o", "json"});
  EXPECT_EQ(r.json()["rules"], json::array());
  r = ok({"policy", "create", "-f", "-", "--name", "override", "-o", "json"}, {},
         std::string(kYaml));
  EXPECT_EQ(r.json()["name"], "override") << "flags override the file";
  EXPECT_EQ(r.json()["refid"], "ticket-7");
  // table output of create
  r = ok({"policy", "create", "--name", "t", "--rule", "x/y/tcp/1"});
  EXPECT_NE(r.out.find("version: 1"), std::string::npos) << r.out;
  EXPECT_TRUE(has_row(r.out, {"x", "y", "tcp", "1"})) << r.out;
}

TEST_F(PolicyCli, BadInput) {
  const std::string bad_yaml = write_file("bad.yaml", "name: [unclosed\n");
  const std::string list_yaml = write_file("list.yaml", "- a\n- b\n");
  const std::string bad_rule = write_file(
      "rule.yaml", "name: x\nrules:\n  - {source: web, destination: db, protocol: sctp}\n");
  const std::string extra = write_file("extra.yaml", "name: x\nrules: []\ncolor: red\n");
  const std::string default_wl = write_file("dw.yaml", "name: default-whitelist\nrules: []\n");
  // Usage errors (exit 2): nothing sent.
  fails({"policy", "create"}, 2, "needs -f FILE");
  fails({"policy", "create", "-f", "/nonexistent/p.yaml"}, 2, "cannot read");
  fails({"policy", "create", "-f", bad_yaml}, 2, "INVALID_YAML");
  fails({"policy", "create", "-f", list_yaml}, 2, "mapping");
  fails({"policy", "create", "--name", "x", "--rule", "web-db"}, 2, "SOURCE/DESTINATION");
  fails({"policy", "create", "--name", "x", "--rule", "web/db/tcp/99999"}, 2, "INVALID_RULE");
  fails({"policy", "create", "-f", bad_yaml, "--rule", "a/b"}, 2);
  fails({"policy", "create", "--from-key", "k", "--name", "x"}, 2);
  fails({"policy", "update", "some-id"}, 2, "needs -f FILE");
  fails({"policy", "get"}, 2);
  fails({"policy", "versions"}, 2);
  // API errors (exit 1, code and message).
  fails({"policy", "create", "-f", bad_rule}, 1, "INVALID_PROTOCOL");
  fails({"policy", "create", "-f", extra}, 1, "UNKNOWN_FIELD");
  fails({"policy", "create", "-f", default_wl}, 1, "POLICY_EXISTS");
  fails({"policy", "create", "--name", "x", "--rule", "bad guid/db"}, 1, "INVALID_GUID");
  fails({"policy", "create", "--name", "x", "--account", "bad/acct"}, 1, "INVALID_ACCOUNT");
  fails({"policy", "get", "nope"}, 1, "POLICY_NOT_FOUND");
  fails({"policy", "update", "nope", "--name", "x"}, 1, "POLICY_NOT_FOUND");
  fails({"policy", "delete", "nope"}, 1, "POLICY_NOT_FOUND");
  fails({"policy", "versions", "nope"}, 1, "POLICY_NOT_FOUND");
  auto p = ok({"policy", "create", "--name", "x", "-o", "json"}).json();
  const std::string id = p["id"];
  fails({"policy", "get", id, "--version", "9"}, 1, "POLICY_VERSION_NOT_FOUND");
  fails({"policy", "get", id, "--version", "x"}, 1, "INVALID_VERSION");
  EXPECT_EQ(ok({"policy", "list", "-o", "json"}).json().size(), 1u) << "nothing else written";
}

TEST_F(PolicyCli, KeysCreateOpenAndCreatePolicyFromKey) {
  const std::string file = write_file("p.yaml", kYaml);
  // From a file: table output is the key alone, for $(…).
  auto r = ok({"key", "create", "--account", "acme", "-f", file});
  std::string key = r.out;
  while (!key.empty() && key.back() == '\n') key.pop_back();
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(
      key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << key;
  r = ok({"key", "open", key, "--account", "acme", "-o", "json"});
  EXPECT_EQ(r.json()["name"], "web-to-db");
  EXPECT_EQ(r.json()["rules"].size(), 2u);
  r = ok({"key", "open", key, "--account", "acme"});
  EXPECT_TRUE(has_row(r.out, {"web", "db", "tcp", "5432"})) << r.out;
  // Another account's key does not open.
  fails({"key", "open", key, "--account", "other"}, 1, "INVALID_POLICY_KEY");
  fails({"key", "open", "garbage!", "--account", "acme"}, 1, "INVALID_POLICY_KEY");

  // policy create --from-key
  r = ok({"policy", "create", "--account", "acme", "--from-key", key, "-o", "json"});
  json p = r.json();
  EXPECT_EQ(p["name"], "web-to-db");
  EXPECT_EQ(p["version"], 1);
  const std::string id = p["id"];

  // key create from a stored policy (latest, or a version); -o json has key and policy.
  ok({"policy", "update", id, "--account", "acme", "--name", "v2"});
  r = ok({"key", "create", "--account", "acme", "--policy", id, "-o", "json"});
  EXPECT_EQ(r.json()["policy"]["name"], "v2");
  r = ok({"key", "create", "--account", "acme", "--policy", id, "--version", "1", "-o", "json"});
  EXPECT_EQ(r.json()["policy"]["name"], "web-to-db");
  const std::string key1 = r.json()["key-string"];
  EXPECT_EQ(ok({"key", "open", key1, "--account", "acme", "-o", "json"}).json()["name"],
            "web-to-db");
  // from flags
  r = ok({"key", "create", "--name", "k", "--rule", "a/b/tcp/1", "-o", "yaml"});
  EXPECT_EQ(r.yaml()["policy"]["rules"][0]["protocol"].as<std::string>(), "tcp");

  fails({"key", "create"}, 2, "needs -f FILE");
  fails({"key", "create", "--version", "1", "--name", "x"}, 2);
  fails({"key", "create", "--policy", "nope"}, 1, "POLICY_NOT_FOUND");
  fails({"policy", "create", "--account", "other", "--from-key", key}, 1, "INVALID_POLICY_KEY");
}

}  // namespace
}  // namespace wiretag::test
