// `wiretag app register|list|get|delete`: apps and their wire tags (Policy Server API,
// SPEC §4.1).
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

Table apps_table(const json& apps) {
  Table t{{"guid", "account", "wire_bytes"}, {}};
  for (const json& a : apps) t.add({cell(a, "guid"), cell(a, "account"), cell(a, "wire_bytes")});
  return t;
}

}  // namespace

void add_app_commands(CLI::App& app) {
  auto* group = app.add_subcommand("app", "register, list, show and delete apps (their wire tags)");
  group->require_subcommand(1);
  {
    static std::string guid, account;
    auto* c = group->add_subcommand("register",
                                    "register an app and show its wire tag "
                                    "(idempotent for the same guid)");
    c->add_option("guid", guid, "the app's guid: 1-128 of [A-Za-z0-9._:-]")->required();
    c->add_option("--account", account, "the app's account (default: default)");
    c->callback([] {
      json body = {{"guid", guid}};
      if (!account.empty()) body["account"] = account;
      json out = server_call(Auth::Bearer, "POST", "/app", body);
      if (!out.contains("account")) out["account"] = account.empty() ? "default" : account;
      show(out, [](const json& a) { return apps_table(json::array({a})); });
    });
  }
  {
    static std::string account;
    auto* c = group->add_subcommand("list", "list apps, with their accounts and wire tags");
    c->add_option("--account", account, "only this account's apps");
    c->callback([] {
      std::string target = "/apps";
      if (!account.empty()) target += "?account=" + query_value(account);
      json out = server_call(Auth::Bearer, "GET", target);
      show(out, [](const json& o) { return apps_table(o.value("apps", json::array())); });
    });
  }
  {
    static std::string guid;
    auto* c = group->add_subcommand("get", "show one app");
    c->add_option("guid", guid, "the app's guid")->required();
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET", "/app/" + segment(guid));
      show(out, [](const json& a) { return apps_table(json::array({a})); });
    });
  }
  {
    static std::string guid;
    auto* c = group->add_subcommand("delete",
                                    "delete an app and its edges (its tag is "
                                    "quarantined, then reused)");
    c->add_option("guid", guid, "the app's guid")->required();
    c->callback([] {
      server_call(Auth::Bearer, "DELETE", "/app/" + segment(guid));
      std::printf("deleted app %s\n", guid.c_str());
    });
  }
}

}  // namespace wiretag::cli
