#include "cli/policy_view.h"

#include <cstdio>
#include <iostream>

#include "cli/api_client.h"

namespace wiretag::cli {

using nlohmann::json;

json policy_draft(const PolicyInput& in) {
  json draft = json::object();
  if (!in.file.empty()) {
    draft = read_document(in.file);
    if (!draft.is_object())
      usage_error(in.file + ": a policy is a mapping of name, refid and rules");
  }
  if (!in.name.empty()) draft["name"] = in.name;
  if (!in.refid.empty()) draft["refid"] = in.refid;
  if (in.clear_refid) draft["refid"] = nullptr;
  if (!in.rules.empty()) {
    json rules = json::array();
    for (const std::string& text : in.rules) {
      auto rule = parse_policy_rule(text);
      if (!rule) usage_error(rule.error().code + ": " + rule.error().message);
      rules.push_back(*rule);
    }
    draft["rules"] = rules;
  }
  return draft;
}

Table policies_table(const json& policies) {
  Table t{{"id", "name", "refid", "version", "rules"}, {}};
  for (const json& p : policies)
    t.add({cell(p, "id"), cell(p, "name"), cell(p, "refid"), cell(p, "version"),
           std::to_string(p.value("rules", json::array()).size())});
  return t;
}

void show_policy(const json& policy) {
  if (globals().output != OutputFormat::Table) {
    show(policy, nullptr);
    return;
  }
  for (const char* key : {"id", "account_id", "name", "refid", "version"})
    if (policy.contains(key)) std::cout << key << ": " << cell(policy, key) << '\n';
  std::cout << '\n';
  Table t{{"source", "destination", "protocol", "ports"}, {}};
  for (const json& r : policy.value("rules", json::array()))
    t.add({cell(r, "source"), cell(r, "destination"), r.value("protocol", std::string("any")),
           ports_text(r)});
  print_table(t);
}

}  // namespace wiretag::cli
