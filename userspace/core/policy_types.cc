#include "core/policy_types.h"

#include <algorithm>
#include <map>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/pap.h"

namespace wiretag {
namespace {

using nlohmann::json;

constexpr size_t kMaxChain = 16;

const json& data_types() {
  static const json types = {
      {"wiretag.datatypes.Rule",
       {{"derived_from", "tosca.datatypes.Root"},
        {"description", "One edge: who may reach which app, on what protocol and ports"},
        {"properties",
         {{"source",
           {{"type", "string"},
            {"required", true},
            {"description", "the source app's guid, or \"*\" for any tagged source"}}},
          {"destination",
           {{"type", "string"}, {"required", true}, {"description", "the destination app's guid"}}},
          {"protocol",
           {{"type", "string"},
            {"required", false},
            {"default", "any"},
            {"constraints", {{{"valid_values", {"tcp", "udp", "icmp", "any"}}}}}}},
          {"ports",
           {{"type", "wiretag.datatypes.PortRange"},
            {"required", false},
            {"description", "absent: all ports"}}}}}}},
      {"wiretag.datatypes.PortRange",
       {{"derived_from", "tosca.datatypes.Root"},
        {"properties",
         {{"start",
           {{"type", "integer"},
            {"required", true},
            {"constraints", {{{"in_range", {1, 65535}}}}}}},
          {"end",
           {{"type", "integer"},
            {"required", false},
            {"description", "absent: start"},
            {"constraints", {{{"in_range", {1, 65535}}}}}}}}}}}};
  return types;
}

PolicyType make_whitelist_type() {
  json def = {
      {"derived_from", "tosca.policies.Root"},
      {"version", std::string(kWhitelistPolicyTypeVersion)},
      {"name", std::string(kWhitelistPolicyType)},
      {"description",
       "Which apps may reach an account's apps: wiretag's account policy (preloaded, read-only)"},
      {"properties",
       {{"account",
         {{"type", "string"},
          {"required", true},
          {"description", "the account whose apps the rules let be reached"}}},
        {"rules",
         {{"type", "list"},
          {"required", true},
          {"entry_schema", {{"type", "wiretag.datatypes.Rule"}}}}}}}};
  return PolicyType{std::string(kWhitelistPolicyType), std::string(kWhitelistPolicyTypeVersion),
                    "tosca.policies.Root", std::move(def), true};
}

Error at(std::string code, const std::string& path, const std::string& what) {
  return Error{std::move(code), path + ": " + what};
}

bool required(const json& def) {
  auto it = def.find("required");
  return it == def.end() || !it->is_boolean() || it->get<bool>();  // TOSCA: required by default
}

Result<void> check_object(const json& value, const json& properties, const std::string& path);

Result<void> check_value(const json& v, const json& def, const std::string& path) {
  const std::string type = def.value("type", "");
  auto wrong = [&](std::string_view what) {
    return at("INVALID_PROPERTY_TYPE", path, "must be " + std::string(what));
  };
  if (type == "string") return v.is_string() ? Ok() : wrong("a string");
  if (type == "integer") return v.is_number_integer() ? Ok() : wrong("an integer");
  if (type == "float") return v.is_number() ? Ok() : wrong("a number");
  if (type == "boolean") return v.is_boolean() ? Ok() : wrong("a boolean");
  const json entry = def.value("entry_schema", json::object());
  if (type == "list") {
    if (!v.is_array()) return wrong("a list");
    for (size_t i = 0; i < v.size(); ++i)
      if (auto r = check_value(v[i], entry, path + "[" + std::to_string(i) + "]"); !r) return r;
    return Ok();
  }
  if (type == "map") {
    if (!v.is_object()) return wrong("a map");
    for (const auto& [key, item] : v.items())
      if (auto r = check_value(item, entry, path + "." + key); !r) return r;
    return Ok();
  }
  if (auto it = data_types().find(type); it != data_types().end()) {
    if (!v.is_object()) return wrong("a map (" + type + ")");
    return check_object(v, (*it)["properties"], path);
  }
  return at("INVALID_POLICY_TYPE", path, "the type defines it as unknown type \"" + type + "\"");
}

// Unknown keys first (in key order), then values, then what is missing.
Result<void> check_object(const json& value, const json& properties, const std::string& path) {
  for (const auto& [key, item] : value.items()) {
    auto def = properties.find(key);
    if (def == properties.end())
      return at("UNKNOWN_PROPERTY", path + "." + key, "no such property in the policy's type");
    if (item.is_null()) continue;  // as if absent
    if (auto r = check_value(item, *def, path + "." + key); !r) return r;
  }
  for (const auto& [key, def] : properties.items()) {
    auto it = value.find(key);
    if (required(def) && (it == value.end() || it->is_null()))
      return at("MISSING_PROPERTY", path + "." + key, "required by the policy's type");
  }
  return Ok();
}

Error type_not_found(std::string_view name, std::string_view version) {
  return Error{"POLICY_TYPE_NOT_FOUND", "no policy type " + std::string(name) +
                                            (version.empty() ? "" : " " + std::string(version))};
}

bool version_less(const std::string& a, const std::string& b) {
  auto x = parse_semantic_version(a), y = parse_semantic_version(b);
  if (x && y) return *x < *y;
  return a < b;
}

PolicyType from_record(const PolicyTypeRecord& r) {
  json def = json::parse(r.body, nullptr, false);
  if (!def.is_object()) def = json::object();
  return PolicyType{r.name, r.version, r.derived_from, std::move(def), false};
}

// Every type, the preloaded one first, each name's versions in semantic order.
Result<std::vector<PolicyType>> all_types(StoreTx& tx) {
  WT_TRY(records, tx.lifecycle().list_policy_types());
  std::vector<PolicyType> out{whitelist_policy_type()};
  for (const PolicyTypeRecord& r : *records) out.push_back(from_record(r));
  std::stable_sort(out.begin() + 1, out.end(), [](const PolicyType& a, const PolicyType& b) {
    return a.name != b.name ? a.name < b.name : version_less(a.version, b.version);
  });
  return out;
}

// The version of `name` that `version` names ("latest": the highest), among `types`.
const PolicyType* find_type(const std::vector<PolicyType>& types, std::string_view name,
                            std::string_view version) {
  const PolicyType* found = nullptr;
  for (const PolicyType& t : types)
    if (t.name == name && (version == "latest" || t.version == version)) found = &t;
  return found;
}

Result<PolicyTypeChain> chain_in(const std::vector<PolicyType>& types, std::string_view name,
                                 std::string_view version) {
  const PolicyType* t = find_type(types, name, version);
  if (!t) return type_not_found(name, version == "latest" ? "" : version);
  PolicyTypeChain out{*t};
  while (!out.back().preloaded) {
    const PolicyType* parent = find_type(types, out.back().derived_from, "latest");
    if (!parent || out.size() > kMaxChain)
      return Error{"STORE_ERROR", "policy type " + out.back().name + " derives from " +
                                      out.back().derived_from + ", which is not stored"};
    out.push_back(*parent);
  }
  return out;
}

Error field_error(std::string code, const std::string& path, const std::string& what) {
  return at(std::move(code), path, what);
}

// A property definition of a derived type: a simple type, or a list or map of one.
Result<void> check_property_definition(const json& def, const std::string& path) {
  if (!def.is_object()) return field_error("INVALID_FIELD_TYPE", path, "must be a map");
  static const std::vector<std::string> allowed = {"type",    "required", "description",
                                                   "default", "metadata", "entry_schema"};
  for (const auto& [key, v] : def.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return field_error("UNKNOWN_FIELD", path + "." + key, "not a property definition field");
  auto type = def.find("type");
  if (type == def.end()) return field_error("MISSING_FIELD", path + ".type", "required");
  if (!type->is_string()) return field_error("INVALID_FIELD_TYPE", path + ".type", "a string");
  static const std::vector<std::string> simple = {"string", "integer", "float", "boolean"};
  auto is_simple = [&](const std::string& t) {
    return std::find(simple.begin(), simple.end(), t) != simple.end();
  };
  const std::string t = type->get<std::string>();
  if (t == "list" || t == "map") {
    auto entry = def.find("entry_schema");
    if (entry == def.end() || !entry->is_object() || !entry->contains("type") ||
        !(*entry)["type"].is_string() || !is_simple((*entry)["type"].get<std::string>()) ||
        entry->size() != 1)
      return field_error("INVALID_POLICY_TYPE", path + ".entry_schema",
                         "a list or map needs entry_schema {type: string|integer|float|boolean}");
  } else if (!is_simple(t)) {
    return field_error("INVALID_POLICY_TYPE", path + ".type",
                       "must be string, integer, float, boolean, list or map");
  } else if (def.contains("entry_schema")) {
    return field_error("INVALID_POLICY_TYPE", path + ".entry_schema", "only for a list or map");
  }
  if (auto r = def.find("required"); r != def.end() && !r->is_boolean())
    return field_error("INVALID_FIELD_TYPE", path + ".required", "must be a boolean");
  if (auto d = def.find("description"); d != def.end() && !d->is_string())
    return field_error("INVALID_FIELD_TYPE", path + ".description", "must be a string");
  if (auto d = def.find("default"); d != def.end())
    if (auto r = check_value(*d, def, path + ".default"); !r)
      return field_error("INVALID_POLICY_TYPE", path + ".default", "does not match its type");
  return Ok();
}

Result<void> check_string_map(const json& v, const std::string& path) {
  if (!v.is_object()) return field_error("INVALID_FIELD_TYPE", path, "must be a map of strings");
  for (const auto& [key, item] : v.items())
    if (!item.is_string())
      return field_error("INVALID_FIELD_TYPE", path + "." + key, "must be a string");
  return Ok();
}

// Whether every type of `types` still derives, through the latest version of each parent's
// name, from the preloaded type without a loop, and defines no property a type it derives from
// defines: a new version of a parent's name changes its children's chains too.
Result<void> check_hierarchy(const std::vector<PolicyType>& types, const PolicyType& added) {
  for (const PolicyType& t : types) {
    if (t.preloaded) continue;
    auto chain = chain_in(types, t.name, t.version);
    if (!chain)
      return Error{"INVALID_POLICY_TYPE",
                   "policy type " + added.name + " " + added.version + " derives from " +
                       added.derived_from + ", which would make " + t.name + " " + t.version +
                       " derive from itself"};
    std::map<std::string, std::string> defined;  // property -> the type defining it
    for (const PolicyType& link : *chain) {
      if (!link.definition.contains("properties") || !link.definition["properties"].is_object())
        continue;
      for (const auto& [key, prop] : link.definition["properties"].items())
        if (auto [it, fresh] = defined.emplace(key, link.name); !fresh && it->second != link.name)
          return Error{"INVALID_POLICY_TYPE",
                       "policy type " + added.name + " " + added.version + " would give " +
                           t.name + " " + t.version + " the property \"" + key + "\" twice (" +
                           it->second + " and " + link.name + ")"};
    }
  }
  return Ok();
}

// One type of a POST /policytypes body, checked against the types known so far.
Result<PolicyType> parse_type(const std::string& name, const json& def,
                              const std::vector<PolicyType>& known) {
  const std::string path = "policy_types." + name;
  if (!is_valid_app_guid(name) || name.find(':') != std::string::npos)
    return field_error("INVALID_POLICY_TYPE_NAME", path,
                       "a type name is 1-128 characters of [A-Za-z0-9._-]");
  if (!def.is_object()) return field_error("INVALID_FIELD_TYPE", path, "must be a map");
  for (const auto& [key, v] : def.items())
    if (key != "derived_from" && key != "version" && key != "name" && key != "description" &&
        key != "metadata" && key != "properties")
      return field_error("UNKNOWN_FIELD", path + "." + key, "not supported in a policy type");
  for (const char* key : {"derived_from", "version"}) {
    if (!def.contains(key)) return field_error("MISSING_FIELD", path + "." + key, "required");
    if (!def[key].is_string())
      return field_error("INVALID_FIELD_TYPE", path + "." + key, "must be a string");
  }
  const std::string version = def["version"].get<std::string>();
  if (!parse_semantic_version(version))
    return field_error("INVALID_VERSION", path + ".version", "must be x.y.z, e.g. 1.0.0");
  if (auto n = def.find("name"); n != def.end() && (!n->is_string() || *n != name))
    return field_error("NAME_MISMATCH", path + ".name", "must be the type's key, " + name);
  if (auto d = def.find("description"); d != def.end() && !d->is_string())
    return field_error("INVALID_FIELD_TYPE", path + ".description", "must be a string");
  if (auto m = def.find("metadata"); m != def.end())
    if (auto r = check_string_map(*m, path + ".metadata"); !r) return r.error();
  const std::string parent = def["derived_from"].get<std::string>();
  if (parent == name)
    return field_error("INVALID_POLICY_TYPE", path + ".derived_from",
                       "a type cannot derive from itself (its own name is any of its versions)");
  auto chain = chain_in(known, parent, "latest");
  if (!chain)
    return field_error("INVALID_POLICY_TYPE", path + ".derived_from",
                       "\"" + parent + "\" is not a known policy type; types derive from " +
                           std::string(kWhitelistPolicyType) + " or a type derived from it");
  json properties = def.value("properties", json::object());
  if (!properties.is_object())
    return field_error("INVALID_FIELD_TYPE", path + ".properties", "must be a map");
  for (const auto& [key, prop] : properties.items()) {
    for (const PolicyType& t : *chain)
      if (t.definition.contains("properties") && t.definition["properties"].contains(key))
        return field_error("INVALID_POLICY_TYPE", path + ".properties." + key,
                           "already defined by " + t.name);
    if (auto r = check_property_definition(prop, path + ".properties." + key); !r) return r.error();
  }
  json out = def;
  out["name"] = name;
  return PolicyType{name, version, parent, std::move(out), false};
}

}  // namespace

std::optional<std::array<int64_t, 3>> parse_semantic_version(std::string_view v) {
  std::array<int64_t, 3> out{};
  size_t part = 0, digits = 0;
  for (char c : v) {
    if (c == '.') {
      if (digits == 0 || ++part > 2) return std::nullopt;
      digits = 0;
    } else if (c >= '0' && c <= '9' && digits < 9) {
      out[part] = out[part] * 10 + (c - '0');
      ++digits;
    } else {
      return std::nullopt;
    }
  }
  if (part != 2 || digits == 0) return std::nullopt;
  return out;
}

const PolicyType& whitelist_policy_type() {
  static const PolicyType type = make_whitelist_type();
  return type;
}

json policy_types_template(const std::vector<PolicyType>& types) {
  std::map<std::string, int> versions;
  for (const PolicyType& t : types) ++versions[t.name];
  json out_types = json::object();
  for (const PolicyType& t : types)
    out_types[versions[t.name] > 1 ? t.name + ":" + t.version : t.name] = t.definition;
  return {{"tosca_definitions_version", std::string(kToscaDefinitionsVersion)},
          {"data_types", data_types()},
          {"policy_types", out_types}};
}

Result<void> check_policy_properties(const json& properties, const PolicyTypeChain& chain) {
  if (!properties.is_object()) return at("INVALID_PROPERTY_TYPE", "properties", "must be a map");
  json defined = json::object();
  for (const PolicyType& t : chain)
    if (auto it = t.definition.find("properties"); it != t.definition.end() && it->is_object())
      for (const auto& [key, def] : it->items()) defined[key] = def;
  return check_object(properties, defined, "properties");
}

Result<PolicyTypeChain> PolicyTypes::chain(StoreTx& tx, std::string_view name,
                                           std::string_view version) {
  WT_TRY(types, all_types(tx));
  return chain_in(*types, name, version);
}

Result<std::vector<PolicyType>> PolicyTypes::list() {
  return store_.read<std::vector<PolicyType>>([](StoreTx& tx) { return all_types(tx); });
}

Result<std::vector<PolicyType>> PolicyTypes::versions(std::string_view name) {
  WT_TRY(types, list());
  std::vector<PolicyType> out;
  for (PolicyType& t : *types)
    if (t.name == name) out.push_back(std::move(t));
  if (out.empty()) return type_not_found(name, "");
  return out;
}

Result<PolicyType> PolicyTypes::get(std::string_view name, std::string_view version) {
  WT_TRY(types, list());
  const PolicyType* t = find_type(*types, name, version);
  if (!t) return type_not_found(name, version == "latest" ? "" : version);
  return *t;
}

Result<std::vector<PolicyType>> PolicyTypes::create(const json& tmpl) {
  if (!tmpl.is_object()) return Error{"INVALID_BODY", "a TOSCA service template is a map"};
  for (const auto& [key, v] : tmpl.items())
    if (key != "tosca_definitions_version" && key != "policy_types" && key != "data_types" &&
        key != "name" && key != "version" && key != "description" && key != "metadata")
      return Error{"UNKNOWN_FIELD",
                   key + ": not accepted by POST /policytypes" +
                       (key == "topology_template" ? std::string(" (policies go to POST /policies)")
                                                   : std::string())};
  auto tosca = tmpl.find("tosca_definitions_version");
  if (tosca == tmpl.end()) return Error{"MISSING_FIELD", "tosca_definitions_version: required"};
  if (*tosca != kToscaDefinitionsVersion)
    return Error{"INVALID_TOSCA_VERSION",
                 "tosca_definitions_version: must be " + std::string(kToscaDefinitionsVersion)};
  if (auto d = tmpl.find("data_types"); d != tmpl.end())
    for (const auto& [key, v] : d->items())
      if (!data_types().contains(key) || data_types()[key] != v)
        return Error{"INVALID_DATA_TYPE",
                     "data_types." + key + ": only the built-in data types, unchanged"};
  auto types_in = tmpl.find("policy_types");
  if (types_in == tmpl.end()) return Error{"MISSING_FIELD", "policy_types: required"};
  // ONAP takes a map of types, or (older templates) a list of one-entry maps.
  std::vector<std::pair<std::string, json>> entries;
  if (types_in->is_object()) {
    for (const auto& [k, v] : types_in->items()) entries.emplace_back(k, v);
  } else if (types_in->is_array()) {
    for (const json& item : *types_in) {
      if (!item.is_object() || item.size() != 1)
        return Error{"INVALID_FIELD_TYPE", "policy_types: each list item is a one-entry map"};
      entries.emplace_back(item.begin().key(), item.begin().value());
    }
  } else {
    return Error{"INVALID_FIELD_TYPE", "policy_types: must be a map of types"};
  }
  if (entries.empty()) return Error{"INVALID_BODY", "policy_types: no type given"};
  return store_.write<std::vector<PolicyType>>([&](StoreTx& tx) -> Result<std::vector<PolicyType>> {
    WT_TRY(known, all_types(tx));
    std::vector<PolicyType> out;
    for (const auto& [name, def] : entries) {
      // A name with a ':' is a "name:version" key of a GET answer posted back.
      std::string bare = name.substr(0, name.find(':'));
      if (bare != name && def.is_object() &&
          def.value("version", "") != name.substr(bare.size() + 1))
        return field_error("NAME_MISMATCH", "policy_types." + name,
                           "a \"name:version\" key must match the version");
      // The preloaded type, posted back as a GET shows it: compared, never parsed anew.
      const PolicyType& base = whitelist_policy_type();
      if (bare == base.name && def.is_object() && def.value("version", "") == base.version) {
        json given = def;
        given["name"] = base.name;
        if (given != base.definition)
          return Error{"POLICY_TYPE_READ_ONLY", "policy type " + base.name + " " + base.version +
                                                    " is preloaded and cannot be changed"};
        out.push_back(base);
        continue;
      }
      if (bare == base.name)
        return Error{"POLICY_TYPE_READ_ONLY",
                     "policy type " + base.name + " is preloaded: it has no version but " +
                         base.version + ", and none can be added"};
      WT_TRY(type, parse_type(bare, def, *known));
      if (const PolicyType* old = find_type(*known, type->name, type->version)) {
        json stored = old->definition, given = type->definition;
        stored.erase("name");
        given.erase("name");
        if (stored != given)
          return Error{old->preloaded ? "POLICY_TYPE_READ_ONLY" : "POLICY_TYPE_VERSION_CONFLICT",
                       "policy type " + type->name + " " + type->version +
                           (old->preloaded ? " is preloaded and cannot be changed"
                                           : " exists with another definition; versions are "
                                             "immutable, post a new version")};
        out.push_back(*old);
        continue;
      }
      std::vector<PolicyType> with = *known;
      with.push_back(*type);
      if (auto r = check_hierarchy(with, *type); !r) return r.error();
      if (auto r = tx.lifecycle().insert_policy_type(
              {type->name, type->version, type->derived_from, type->definition.dump()});
          !r)
        return r.error();
      known->push_back(*type);
      out.push_back(std::move(*type));
    }
    return out;
  });
}

Result<PolicyType> PolicyTypes::remove(std::string_view name, std::string_view version) {
  return store_.write<PolicyType>([&](StoreTx& tx) -> Result<PolicyType> {
    WT_TRY(types, all_types(tx));
    const PolicyType* t = find_type(*types, name, version);
    if (!t) return type_not_found(name, version == "latest" ? "" : version);
    if (t->preloaded)
      return Error{"POLICY_TYPE_READ_ONLY",
                   "policy type " + t->name + " is preloaded and cannot be deleted"};
    for (const PolicyType& other : *types)
      if (other.derived_from == t->name)
        return Error{"POLICY_TYPE_IN_USE", "policy type " + t->name + " " + t->version +
                                               " is in use: policy type " + other.name + " " +
                                               other.version + " derives from it"};
    WT_TRY(policies, tx.lifecycle().list_all_policies());
    for (const PolicyRecord& p : *policies)
      for (int64_t v = 1; v <= p.version; ++v) {
        WT_TRY(rec, tx.policy_version(p.id, v));
        if (!*rec) continue;
        WT_TRY(policy, policy_from_record(**rec));
        if (policy->tosca.is_object() && policy->tosca.value("type", "") == t->name &&
            policy->tosca.value("type_version", "") == t->version)
          return Error{"POLICY_TYPE_IN_USE", "policy type " + t->name + " " + t->version +
                                                 " is in use: policy " + p.id + " version " +
                                                 std::to_string(v) + ".0.0 is of this type"};
      }
    PolicyType out = *t;
    if (auto r = tx.lifecycle().delete_policy_type(out.name, out.version); !r) return r.error();
    return out;
  });
}

}  // namespace wiretag
