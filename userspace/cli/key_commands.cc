// `wiretag key create|open`: policy keys (seed 003, SPEC §4.3: …/policy_keys), a policy sealed
// into a string that only this server (or one sharing its secret) opens, for this account.
// `wiretag policy create --from-key KEY` stores the policy a key holds.
#include <iostream>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/policy_view.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

std::string keys_path(const std::string& account) {
  return "/v1/accounts/" + segment(account.empty() ? "default" : account) + "/policy_keys";
}

}  // namespace

void add_key_commands(CLI::App& app) {
  auto* group = app.add_subcommand("key", "seal a policy into a policy key, and open one");
  group->require_subcommand(1);
  {
    static std::string account, policy, version;
    static PolicyInput in;
    auto* c = group->add_subcommand("create",
                                    "seal a policy into a key: from -f FILE, --name/--rule, "
                                    "or a stored policy (--policy ID); prints the key");
    c->add_option("--account", account, "the account the key is for")->default_str("default");
    auto* file =
        c->add_option("-f,--file", in.file, "the policy as JSON or YAML {name, refid, rules}");
    c->add_option("--name", in.name, "the policy's name");
    c->add_option("--refid", in.refid, "its refid");
    c->add_option("--rule", in.rules,
                  "a rule SOURCE/DESTINATION[/PROTO[/PORT[-PORT]]] (repeat for several)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* stored = c->add_option("--policy", policy, "a stored policy's id or refid")
                       ->excludes(file)
                       ->excludes("--rule")
                       ->excludes("--name")
                       ->excludes("--refid");
    c->add_option("--version", version, "with --policy: that version (default: the latest)")
        ->needs(stored);
    c->callback([] {
      json draft;
      if (!policy.empty()) {
        std::string target = "/v1/accounts/" + segment(account.empty() ? "default" : account) +
                             "/policies/" + segment(policy) +
                             (version.empty() ? "" : "/versions/" + segment(version));
        json p = server_call(Auth::Bearer, "GET", target);
        draft = {{"name", p["name"]}, {"refid", p["refid"]}, {"rules", p["rules"]}};
      } else {
        draft = policy_draft(in);
        if (in.file.empty() && !draft.contains("name"))
          usage_error("key create needs -f FILE, --name (with --rule …) or --policy ID");
        if (in.file.empty() && !draft.contains("rules")) draft["rules"] = json::array();
      }
      json out = server_call(Auth::Bearer, "POST", keys_path(account), draft);
      if (globals().output == OutputFormat::Table)
        std::cout << out.value("key-string", std::string()) << std::endl;
      else
        show(out, nullptr);
    });
  }
  {
    static std::string account, key;
    auto* c = group->add_subcommand("open", "show the policy a key holds (nothing is stored)");
    c->add_option("--account", account, "the account the key is for")->default_str("default");
    c->add_option("key", key, "the policy key")->required();
    c->callback([] {
      show_policy(server_call(Auth::Bearer, "GET", keys_path(account) + "/" + segment(key)));
    });
  }
}

}  // namespace wiretag::cli
