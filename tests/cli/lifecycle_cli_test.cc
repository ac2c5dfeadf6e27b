// `wiretag policytype …` and `wiretag tosca …`: the real CLI against the real server's
// lifecycle API, from YAML and JSON files and stdin, tables and -o json|yaml.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

const char* kTypeYaml = R"(tosca_definitions_version: tosca_simple_yaml_1_1_0
policy_types:
  acme.policies.Web:
    derived_from: wiretag.policies.Whitelist
    version: 1.0.0
    description: web access
    properties:
      owner: {type: string, required: false}
)";

const char* kPolicyYaml = R"(tosca_definitions_version: tosca_simple_yaml_1_1_0
topology_template:
  policies:
    - acme.web:
        type: wiretag.policies.Whitelist
        type_version: 1.0.0
        metadata: {name: web to db}
        properties:
          account: acme
          rules:
            - {source: shop, destination: db, protocol: tcp, ports: {start: 5432}}
)";

class LifecycleCli : public CliServerTest {
 protected:
  CliResult ok(std::vector<std::string> args, std::optional<std::string> in = std::nullopt) {
    auto r = cli(std::move(args), {}, std::move(in));
    EXPECT_EQ(r.status, 0) << describe(r);
    return r;
  }
};

TEST_F(LifecycleCli, PolicyTypesListCreateGetDelete) {
  auto list = ok({"policytype", "list"});
  auto rows = table_rows(list.out);
  ASSERT_GE(rows.size(), 2u) << list.out;
  EXPECT_EQ(std::vector<std::string>(rows[1].begin(), rows[1].begin() + 4),
            (std::vector<std::string>{"wiretag.policies.Whitelist", "1.0.0", "tosca.policies.Root",
                                      "account,rules"}))
      << list.out;
  const std::string file = write_file("type.yaml", kTypeYaml);
  auto created = ok({"policytype", "create", "-f", file, "-o", "json"});
  EXPECT_EQ(created.json()["policy_types"]["acme.policies.Web"]["derived_from"],
            "wiretag.policies.Whitelist");
  auto got = ok({"policytype", "get", "acme.policies.Web", "--version", "latest", "-o", "yaml"});
  EXPECT_EQ(got.yaml()["policy_types"]["acme.policies.Web"]["version"].as<std::string>(), "1.0.0");
  auto table = ok({"policytype", "get", "acme.policies.Web"});
  EXPECT_NE(table.out.find("owner"), std::string::npos) << table.out;
  // The preloaded type cannot go; the new one can.
  auto refused = cli({"policytype", "delete", "wiretag.policies.Whitelist", "--version", "1.0.0"});
  EXPECT_EQ(refused.status, 1) << describe(refused);
  EXPECT_NE(refused.err.find("POLICY_TYPE_READ_ONLY"), std::string::npos) << refused.err;
  EXPECT_EQ(ok({"policytype", "delete", "acme.policies.Web", "--version", "1.0.0"}).out,
            "deleted policy type acme.policies.Web 1.0.0\n");
  auto missing = cli({"policytype", "get", "acme.policies.Web"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("POLICY_TYPE_NOT_FOUND"), std::string::npos) << missing.err;
  // A bad file is the API's 400 with the field's path.
  auto bad = cli({"policytype", "create", "-f", "-"}, {},
                 std::string("tosca_definitions_version: tosca_simple_yaml_1_1_0\n"
                             "policy_types:\n  x.T: {derived_from: nope, version: 1.0.0}\n"));
  EXPECT_EQ(bad.status, 1) << describe(bad);
  EXPECT_NE(bad.err.find("policy_types.x.T.derived_from"), std::string::npos) << bad.err;
}

TEST_F(LifecycleCli, ToscaPoliciesAreAccountPoliciesFromYamlOrJson) {
  auto created = ok({"tosca", "create", "-f", write_file("p.yaml", kPolicyYaml)});
  EXPECT_TRUE(has_row(created.out, {"acme.web", "1.0.0", "wiretag.policies.Whitelist", "1.0.0",
                                    "acme", "web", "to", "db", "1"}))
      << created.out;
  // The account view: `wiretag policy get` reads the same policy.
  auto account = ok({"policy", "get", "acme.web", "--account", "acme", "-o", "json"});
  EXPECT_EQ(account.json()["name"], "web to db");
  EXPECT_EQ(account.json()["version"], 1);
  // A second version from JSON on stdin, under the type's path.
  json v2 = {
      {"tosca_definitions_version", "tosca_simple_yaml_1_1_0"},
      {"topology_template",
       {{"policies",
         {{{"acme.web",
            {{"type", "wiretag.policies.Whitelist"},
             {"version", "2.0.0"},
             {"properties",
              {{"account", "acme"}, {"rules", {{{"source", "*"}, {"destination", "db"}}}}}}}}}}}}}};
  ok({"tosca", "create", "-f", "-", "--type", "wiretag.policies.Whitelist", "--type-version",
      "1.0.0"},
     v2.dump());
  auto list = ok({"tosca", "list", "-o", "json"});
  EXPECT_EQ(list.json()["topology_template"]["policies"].size(), 2u) << list.out;
  auto latest = ok({"tosca", "get", "acme.web", "--version", "latest", "-o", "yaml"});
  EXPECT_EQ(
      latest.yaml()["topology_template"]["policies"][0]["acme.web"]["version"].as<std::string>(),
      "2.0.0");
  auto typed = ok({"tosca", "list", "--type", "wiretag.policies.Whitelist"});
  EXPECT_EQ(table_rows(typed.out).size(), 3u) << typed.out;  // header and two versions
  EXPECT_EQ(ok({"tosca", "delete", "acme.web", "--version", "2.0.0"}).out,
            "deleted policy acme.web version 2.0.0\n");
  EXPECT_EQ(ok({"policy", "get", "acme.web", "--account", "acme", "-o", "json"}).json()["version"],
            1);
  // Version 1.0.0 again with other rules: versions are immutable.
  std::string changed = kPolicyYaml;
  changed.replace(changed.find("metadata:"), 9, "version: 1.0.0\n        metadata:");
  changed.replace(changed.find("5432"), 4, "5433");
  auto conflict = cli({"tosca", "create", "-f", "-"}, {}, changed);
  EXPECT_EQ(conflict.status, 1) << describe(conflict);
  EXPECT_NE(conflict.err.find("POLICY_VERSION_CONFLICT"), std::string::npos) << conflict.err;
}

}  // namespace
}  // namespace wiretag::test
