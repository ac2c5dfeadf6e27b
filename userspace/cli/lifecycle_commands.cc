// `wiretag policytype list|get|create|delete` and `wiretag tosca list|get|create|delete`: the
// lifecycle API (SPEC §4.5, /policy/api/v1), TOSCA policy types and policies. Files are TOSCA
// service templates in JSON or YAML; -o json|yaml prints the API's template as it came.
#include <cstdio>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

const std::string kBase = "/policy/api/v1";

json lifecycle_call(std::string_view method, const std::string& path, const json& body = nullptr) {
  return server_call(Auth::Bearer, method, kBase + path, body);
}

Table types_table(const json& tmpl) {
  Table t{{"name", "version", "derived_from", "properties", "description"}, {}};
  const json types = tmpl.value("policy_types", json::object());
  for (const auto& [key, def] : types.items()) {
    std::string props;
    const json properties = def.value("properties", json::object());
    for (const auto& [name, p] : properties.items()) props += (props.empty() ? "" : ",") + name;
    t.add({def.value("name", key), cell(def, "version"), cell(def, "derived_from"),
           props.empty() ? "-" : props, cell(def, "description")});
  }
  return t;
}

Table policies_table(const json& tmpl) {
  Table t{{"id", "version", "type", "account", "name", "rules"}, {}};
  const json list =
      tmpl.value("topology_template", json::object()).value("policies", json::array());
  for (const json& item : list)
    for (const auto& [id, def] : item.items()) {
      const json props = def.value("properties", json::object());
      t.add({id, cell(def, "version"), def.value("type", "") + " " + def.value("type_version", ""),
             cell(props, "account"), cell(def.value("metadata", json::object()), "name"),
             std::to_string(props.value("rules", json::array()).size())});
    }
  return t;
}

void add_policytype_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "policytype", "list, show, create and delete TOSCA policy types (lifecycle API)");
  group->require_subcommand(1);
  group->add_subcommand("list", "list every policy type, wiretag.policies.Whitelist first")
      ->callback([] { show(lifecycle_call("GET", "/policytypes"), types_table); });
  {
    static std::string name, version;
    auto* c = group->add_subcommand("get", "show a policy type's versions, or one --version");
    c->add_option("name", name, "the type's name")->required();
    c->add_option("--version", version, "one version x.y.z, or latest");
    c->callback([] {
      std::string path = "/policytypes/" + segment(name);
      if (!version.empty()) path += "/versions/" + segment(version);
      show(lifecycle_call("GET", path), types_table);
    });
  }
  {
    static std::string file;
    auto* c = group->add_subcommand(
        "create", "create policy types from a TOSCA service template (policy_types)");
    c->add_option("-f,--file", file, "the template, JSON or YAML ('-' = stdin)")->required();
    c->callback(
        [] { show(lifecycle_call("POST", "/policytypes", read_document(file)), types_table); });
  }
  {
    static std::string name, version;
    auto* c = group->add_subcommand("delete", "delete a version of a policy type (not one in use)");
    c->add_option("name", name, "the type's name")->required();
    c->add_option("--version", version, "the version x.y.z")->required();
    c->callback([] {
      lifecycle_call("DELETE", "/policytypes/" + segment(name) + "/versions/" + segment(version));
      std::printf("deleted policy type %s %s\n", name.c_str(), version.c_str());
    });
  }
}

// Under /policytypes/T/versions/V when --type is given.
std::string policies_path(const std::string& type, const std::string& type_version) {
  if (type.empty()) return "/policies";
  return "/policytypes/" + segment(type) + "/versions/" +
         segment(type_version.empty() ? "latest" : type_version) + "/policies";
}

void add_type_flags(CLI::App* c, std::string& type, std::string& type_version) {
  auto* t = c->add_option("--type", type, "only policies of this policy type");
  c->add_option("--type-version", type_version, "the type's version (default: latest)")->needs(t);
}

void add_tosca_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "tosca",
      "list, show, create and delete TOSCA policies (lifecycle API); each is an account policy");
  group->require_subcommand(1);
  {
    static std::string type, type_version;
    auto* c = group->add_subcommand("list", "list every version of every TOSCA policy");
    add_type_flags(c, type, type_version);
    c->callback(
        [] { show(lifecycle_call("GET", policies_path(type, type_version)), policies_table); });
  }
  {
    static std::string id, version, type, type_version;
    auto* c = group->add_subcommand("get", "show a policy's versions, or one --version");
    c->add_option("id", id, "the policy's name (its account policy id)")->required();
    c->add_option("--version", version, "one version N.0.0, or latest");
    add_type_flags(c, type, type_version);
    c->callback([] {
      std::string path = policies_path(type, type_version) + "/" + segment(id);
      if (!version.empty()) path += "/versions/" + segment(version);
      show(lifecycle_call("GET", path), policies_table);
    });
  }
  {
    static std::string file, type, type_version;
    auto* c = group->add_subcommand(
        "create", "create policies, or their next versions, from a TOSCA service template");
    c->add_option("-f,--file", file, "the template, JSON or YAML ('-' = stdin)")->required();
    add_type_flags(c, type, type_version);
    c->callback([] {
      show(lifecycle_call("POST", policies_path(type, type_version), read_document(file)),
           policies_table);
    });
  }
  {
    static std::string id, version;
    auto* c = group->add_subcommand(
        "delete", "delete a version of a policy (not a deployed one; the only one deletes it)");
    c->add_option("id", id, "the policy's name")->required();
    c->add_option("--version", version, "the version N.0.0")->required();
    c->callback([] {
      lifecycle_call("DELETE", "/policies/" + segment(id) + "/versions/" + segment(version));
      std::printf("deleted policy %s version %s\n", id.c_str(), version.c_str());
    });
  }
}

}  // namespace

void add_lifecycle_commands(CLI::App& app) {
  add_policytype_commands(app);
  add_tosca_commands(app);
}

}  // namespace wiretag::cli
