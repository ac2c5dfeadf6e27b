// `wiretag policy create|list|get|versions|update|delete`: named, versioned policies of an
// account (SPEC §2, §4.3: /v1/accounts/:account_id/policies), from a JSON or YAML file or from
// flags.
#include <cstdio>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/policy_view.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

std::string policies_path(const std::string& account) {
  return "/v1/accounts/" + segment(account.empty() ? "default" : account) + "/policies";
}

void add_account_flag(CLI::App* c, std::string& account) {
  c->add_option("--account", account, "the policies' account")->default_str("default");
}

void add_input_flags(CLI::App* c, PolicyInput& in, bool update) {
  auto* file = c->add_option("-f,--file", in.file,
                             "the policy as a JSON or YAML document {name, refid, rules} "
                             "('-' = stdin)");
  c->add_option("--name", in.name, "the policy's name");
  c->add_option("--refid", in.refid, "your reference id for the policy (get/update accept it)");
  c->add_option("--rule", in.rules,
                "a rule SOURCE/DESTINATION[/PROTO[/PORT[-PORT]]], e.g. web/db/tcp/5432, "
                "'*/db/icmp' (repeat for several; replaces the rules)")
      ->excludes(file)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  if (update) c->add_flag("--clear-refid", in.clear_refid, "remove the policy's refid");
}

}  // namespace

void add_policy_commands(CLI::App& app) {
  auto* group = app.add_subcommand("policy",
                                   "create, list, show, version, update and delete an "
                                   "account's named policies");
  group->require_subcommand(1);
  {
    static std::string account, from_key;
    static PolicyInput in;
    auto* c = group->add_subcommand("create",
                                    "create a policy (version 1) from -f FILE, from "
                                    "--name/--rule, or from a policy key");
    add_account_flag(c, account);
    add_input_flags(c, in, false);
    c->add_option("--from-key", from_key, "a policy key (`wiretag key create`) of this account")
        ->excludes("--file")
        ->excludes("--rule")
        ->excludes("--name")
        ->excludes("--refid");
    c->callback([] {
      json body;
      if (!from_key.empty()) {
        body = {{"policy_key", from_key}};
      } else {
        body = policy_draft(in);
        if (in.file.empty() && !body.contains("name"))
          usage_error("policy create needs -f FILE, --name (with --rule …) or --from-key");
        if (in.file.empty() && !body.contains("rules")) body["rules"] = json::array();
      }
      json out = server_call(Auth::Bearer, "POST", policies_path(account), body);
      show_policy(out.value("result", out));
    });
  }
  {
    static std::string account;
    auto* c = group->add_subcommand("list", "list the account's policies (latest versions)");
    add_account_flag(c, account);
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET", policies_path(account));
      show(out, policies_table);
    });
  }
  {
    static std::string account, id, version;
    auto* c = group->add_subcommand("get", "show a policy (its latest version, or --version N)");
    add_account_flag(c, account);
    c->add_option("id", id, "the policy's id or refid")->required();
    c->add_option("--version", version, "an older version N (see `policy versions`)");
    c->callback([] {
      std::string target = policies_path(account) + "/" + segment(id);
      if (!version.empty()) target += "/versions/" + segment(version);
      show_policy(server_call(Auth::Bearer, "GET", target));
    });
  }
  {
    static std::string account, id;
    auto* c = group->add_subcommand("versions",
                                    "list every version of a policy, oldest first (also of a "
                                    "deleted one, by id)");
    add_account_flag(c, account);
    c->add_option("id", id, "the policy's id or refid")->required();
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET",
                             policies_path(account) + "/" + segment(id) + "/versions");
      show(out, [](const json& versions) {
        Table t{{"version", "name", "refid", "rules"}, {}};
        for (const json& p : versions)
          t.add({cell(p, "version"), cell(p, "name"), cell(p, "refid"),
                 std::to_string(p.value("rules", json::array()).size())});
        return t;
      });
    });
  }
  {
    static std::string account, id;
    static PolicyInput in;
    auto* c = group->add_subcommand("update",
                                    "make a new version: -f FILE replaces the policy, flags "
                                    "change only what they name");
    add_account_flag(c, account);
    c->add_option("id", id, "the policy's id or refid")->required();
    add_input_flags(c, in, true);
    c->callback([] {
      json body = policy_draft(in);
      if (body.empty())
        usage_error("policy update needs -f FILE, or --name, --refid, --clear-refid or --rule");
      // A file is the whole policy (PUT); flags patch (PATCH).
      const char* method = in.file.empty() ? "PATCH" : "PUT";
      json out =
          server_call(Auth::Bearer, method, policies_path(account) + "/" + segment(id), body);
      show_policy(out.value("result", out));
    });
  }
  {
    static std::string account, id;
    auto* c = group->add_subcommand("delete",
                                    "delete a policy (refused while a version is deployed; "
                                    "its versions stay readable)");
    add_account_flag(c, account);
    c->add_option("id", id, "the policy's id or refid")->required();
    c->callback([] {
      server_call(Auth::Bearer, "DELETE", policies_path(account) + "/" + segment(id));
      std::printf("deleted policy %s\n", id.c_str());
    });
  }
}

}  // namespace wiretag::cli
