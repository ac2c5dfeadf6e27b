// `wiretag group create|list|state|delete`: PDP groups (PAP API, SPEC §4.4). A group's
// state is the datapath mode of its cells: ACTIVE enforce, TEST audit, SAFE enforce and no
// deployment changes, PASSIVE bypass.
#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/pap_client.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

const std::vector<std::string> kStates = {"ACTIVE", "PASSIVE", "SAFE", "TEST"};

std::string policies_of(const json& subgroup) {
  std::string out;
  for (const json& p : subgroup.value("policies", json::array()))
    out += (out.empty() ? "" : ",") + p.value("name", "?") + "@" + p.value("version", "?");
  return out.empty() ? "-" : out;
}

// One row per (group, subgroup).
Table groups_table(const json& pdps) {
  Table t{{"group", "state", "subgroup", "cells", "policies", "description"}, {}};
  for (const json& g : pdps.value("groups", json::array())) {
    const json subgroups = g.value("pdpSubgroups", json::array());
    std::string description = cell(g, "description");
    if (description.empty()) description = "-";
    if (subgroups.empty())
      t.add({cell(g, "name"), cell(g, "pdpGroupState"), "-", "-", "-", description});
    for (const json& s : subgroups)
      t.add({cell(g, "name"), cell(g, "pdpGroupState"), cell(s, "pdpType"),
             cell(s, "currentInstanceCount") + "/" + cell(s, "desiredInstanceCount"),
             policies_of(s), description});
  }
  return t;
}

}  // namespace

void add_group_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "group", "create, list, change the state of and delete PDP groups (PAP credentials)");
  group->require_subcommand(1);
  {
    static std::string name, state, description;
    static std::vector<std::string> subgroups;
    static int desired = -1;
    auto* c = group->add_subcommand(
        "create", "create a group (an existing one is an error: change it with group state)");
    c->add_option("name", name, "the group's name: 1-128 of [A-Za-z0-9._:-]")->required();
    c->add_option("--state", state, "ACTIVE, PASSIVE, SAFE or TEST (default PASSIVE)")
        ->transform(CLI::IsMember(kStates, CLI::ignore_case));
    c->add_option("--subgroup", subgroups,
                  "a subgroup (pdpType) the group's cells run (repeatable; default tc)");
    c->add_option("--desired-instances", desired,
                  "cells each subgroup should have (fewer makes components/healthcheck "
                  "unhealthy)")
        ->check(CLI::Range(0, 1000000));
    c->add_option("--description", description, "free text, up to 1024 bytes");
    c->callback([] {
      if (const json g = find_group(name); !g.is_null())
        api_error(Error{"GROUP_EXISTS",
                        "group \"" + name + "\" exists (state " + g.value("pdpGroupState", "?") +
                            "); change its state with: wiretag group state " + name + " STATE"});
      json subs = json::array();
      for (const std::string& s : subgroups.empty() ? std::vector<std::string>{"tc"} : subgroups) {
        json sub = {{"pdpType", s}};
        if (desired >= 0) sub["desiredInstanceCount"] = desired;
        subs.push_back(sub);
      }
      json g = {{"name", name}, {"pdpSubgroups", subs}};
      if (!state.empty()) g["pdpGroupState"] = state;
      if (!description.empty()) g["description"] = description;
      pap_call("POST", "/pdps/groups/batch", json{{"groups", json::array({g})}});
      std::printf("created group %s (%s)\n", name.c_str(),
                  state.empty() ? "PASSIVE" : state.c_str());
    });
  }
  {
    auto* c = group->add_subcommand(
        "list", "list groups: state, subgroups, live/desired cells, deployed policy versions");
    c->callback([] { show(pap_call("GET", "/pdps"), groups_table); });
  }
  {
    static std::string name, state;
    auto* c = group->add_subcommand(
        "state",
        "set a group's state, so its cells' mode: ACTIVE enforce, TEST audit (drops "
        "nothing), SAFE enforce and refuse deployment changes, PASSIVE bypass");
    c->add_option("name", name, "the group")->required();
    c->add_option("state", state, "ACTIVE, PASSIVE, SAFE or TEST")
        ->required()
        ->transform(CLI::IsMember(kStates, CLI::ignore_case));
    c->callback([] {
      pap_call("PUT", "/pdps/groups/" + segment(name) + "?state=" + state);
      std::printf("group %s is %s\n", name.c_str(), state.c_str());
    });
  }
  {
    static std::string name;
    auto* c = group->add_subcommand(
        "delete", "delete a PASSIVE group and its deployments (any other state: 409)");
    c->add_option("name", name, "the group")->required();
    c->callback([] {
      pap_call("DELETE", "/pdps/groups/" + segment(name));
      std::printf("deleted group %s\n", name.c_str());
    });
  }
}

}  // namespace wiretag::cli
