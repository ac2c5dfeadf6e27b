// api/accounts.yaml: its example bodies, sent to the real server in the documented order,
// get the statuses under which the document lists their responses, and the server's
// responses match both the example and the schema the document gives for that status.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

// The secret the example policy key was sealed under (api/accounts.yaml says so).
constexpr char kExampleSecret[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kPolicies = "/v1/accounts/{account_id}/policies";
const std::string kPolicy = "/v1/accounts/{account_id}/policies/{id_or_refid}";
const std::string kVersions = "/v1/accounts/{account_id}/policies/{id_or_refid}/versions";
const std::string kVersion = kVersions + "/{version}";
const std::string kKeys = "/v1/accounts/{account_id}/policy_keys";
const std::string kKey = "/v1/accounts/{account_id}/policy_keys/{key}";

std::string api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json example(const std::string& name) {
  json j = json::parse(api_file("examples/" + name), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << name << " is not JSON";
  return j;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Where accounts.yaml lists an example file: under an operation's request body, or under
// one of its response statuses.
struct Listed {
  std::string method;  // "POST"
  std::string path;    // as in the document
  std::string where;   // "request" or the status, "201"
  friend bool operator==(const Listed&, const Listed&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Listed& l) {
    return os << l.method << " " << l.path << " " << l.where;
  }
};

class AccountsDocument {
 public:
  AccountsDocument() : doc_(YAML::Load(api_file("accounts.yaml"))) {
    for (const auto& path : doc_["paths"]) {
      for (const auto& op : path.second) {
        std::string method = op.first.as<std::string>();
        if (method == "parameters") continue;
        std::string upper = method;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        operations_.push_back({upper, path.first.as<std::string>()});
        auto note = [&](const YAML::Node& content, const std::string& where) {
          for (const auto& ex : content["application/json"]["examples"]) {
            std::string file = ex.second["externalValue"].as<std::string>();
            listed_.emplace(file.substr(file.find('/') + 1),
                            Listed{upper, path.first.as<std::string>(), where});
          }
        };
        if (op.second["requestBody"]) note(op.second["requestBody"]["content"], "request");
        for (const auto& res : op.second["responses"]) {
          YAML::Node r = resolve(res.second);
          if (r["content"]) note(r["content"], res.first.as<std::string>());
        }
      }
    }
  }

  const std::map<std::string, Listed>& listed() const { return listed_; }
  const std::vector<std::pair<std::string, std::string>>& operations() const { return operations_; }

  // The schema of the JSON response of method path with this status.
  YAML::Node response_schema(const std::string& method, const std::string& path, int status) const {
    YAML::Node op = doc_["paths"][path][lower(method)];
    YAML::Node res = resolve(op["responses"][std::to_string(status)]);
    return res["content"]["application/json"]["schema"];
  }

  // Problems of value against schema (a subset of OpenAPI 3.0 schema objects: $ref, type,
  // nullable, enum, required, properties, additionalProperties: false, items, minItems,
  // minimum, maximum, minLength, maxLength, pattern, oneOf); empty = valid.
  std::vector<std::string> check(const json& value, YAML::Node schema,
                                 const std::string& at = "$") const {
    std::vector<std::string> out;
    schema = resolve(schema);
    if (!schema) return {at + ": no schema"};
    if (schema["oneOf"]) {
      for (const auto& alt : schema["oneOf"])
        if (check(value, alt, at).empty()) return {};
      return {at + ": matches no oneOf alternative"};
    }
    if (value.is_null()) {
      if (!(schema["nullable"] && schema["nullable"].as<bool>())) out.push_back(at + ": null");
      return out;
    }
    const std::string type = schema["type"] ? schema["type"].as<std::string>() : "";
    if (type == "object") {
      if (!value.is_object()) return {at + ": not an object"};
      for (const auto& r : schema["required"])
        if (!value.contains(r.as<std::string>()))
          out.push_back(at + ": missing " + r.as<std::string>());
      for (const auto& [key, v] : value.items()) {
        YAML::Node prop = schema["properties"] ? schema["properties"][key] : YAML::Node();
        if (!prop) {
          if (schema["additionalProperties"] && !schema["additionalProperties"].as<bool>())
            out.push_back(at + ": undocumented member " + key);
          continue;
        }
        auto sub = check(v, prop, at + "." + key);
        out.insert(out.end(), sub.begin(), sub.end());
      }
    } else if (type == "array") {
      if (!value.is_array()) return {at + ": not an array"};
      if (schema["minItems"] && value.size() < schema["minItems"].as<size_t>())
        out.push_back(at + ": too few items");
      for (size_t i = 0; i < value.size(); ++i) {
        auto sub = check(value[i], schema["items"], at + "[" + std::to_string(i) + "]");
        out.insert(out.end(), sub.begin(), sub.end());
      }
    } else if (type == "string") {
      if (!value.is_string()) return {at + ": not a string"};
      const std::string s = value.get<std::string>();
      if (schema["minLength"] && s.size() < schema["minLength"].as<size_t>())
        out.push_back(at + ": too short");
      if (schema["maxLength"] && s.size() > schema["maxLength"].as<size_t>())
        out.push_back(at + ": too long");
      if (schema["pattern"] &&
          !std::regex_search(s, std::regex(schema["pattern"].as<std::string>())))
        out.push_back(at + ": does not match " + schema["pattern"].as<std::string>());
    } else if (type == "integer") {
      if (!value.is_number_integer()) return {at + ": not an integer"};
      if (schema["minimum"] && value.get<int64_t>() < schema["minimum"].as<int64_t>())
        out.push_back(at + ": below minimum");
      if (schema["maximum"] && value.get<int64_t>() > schema["maximum"].as<int64_t>())
        out.push_back(at + ": above maximum");
    }
    if (schema["enum"]) {
      bool found = false;
      for (const auto& e : schema["enum"])
        found |= value.is_string() && value.get<std::string>() == e.as<std::string>();
      if (!found) out.push_back(at + ": not one of the enum");
    }
    return out;
  }

 private:
  // Follows "#/components/..." references.
  YAML::Node resolve(YAML::Node node) const {
    while (node && node.IsMap() && node["$ref"]) {
      std::string ref = node["$ref"].as<std::string>();
      YAML::Node at = YAML::Clone(doc_);
      std::stringstream parts(ref.substr(2));
      for (std::string part; std::getline(parts, part, '/');) at = at[part];
      node = at;
    }
    return node;
  }

  YAML::Node doc_;
  std::map<std::string, Listed> listed_;
  std::vector<std::pair<std::string, std::string>> operations_;
};

bool is_uuid_v4(const json& v) {
  static const std::regex uuid(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return v.is_string() && std::regex_match(v.get<std::string>(), uuid);
}

// The server's response with what it chooses at random (policy ids, key-strings) replaced
// by the example's values, where the server's are well-formed.
json as_example(json actual, const json& ex) {
  if (actual.is_object() && ex.is_object()) {
    if (actual.contains("id") && ex.contains("id") && is_uuid_v4(actual["id"]))
      actual["id"] = ex["id"];
    if (actual.contains("key-string") && ex.contains("key-string") &&
        actual["key-string"].is_string() &&
        std::regex_match(actual["key-string"].get<std::string>(), std::regex("^[A-Za-z0-9_-]+$")))
      actual["key-string"] = ex["key-string"];
    for (auto& [key, v] : actual.items())
      if (ex.contains(key)) v = as_example(v, ex[key]);
  } else if (actual.is_array() && ex.is_array() && actual.size() == ex.size()) {
    for (size_t i = 0; i < actual.size(); ++i) actual[i] = as_example(actual[i], ex[i]);
  }
  return actual;
}

class AccountsExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(data_);
    std::ofstream(data_ / "policy-key-secret") << kExampleSecret << "\n";
    std::filesystem::permissions(
        data_ / "policy-key-secret",
        std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    server_ = std::make_unique<ServerProcess>(data_);
    ASSERT_TRUE(server_->started()) << "see " << server_->output_file();
  }

  // Sends the step and checks it against the document and the examples; the response.
  json step(const std::string& method, const std::string& path, const std::string& target,
            const std::string& request_file, const std::string& response_file) {
    SCOPED_TRACE(method + " " + target + " " + request_file + " -> " + response_file);
    const auto& listed = doc_.listed();
    std::string body;
    if (!request_file.empty()) {
      EXPECT_EQ(listed.count(request_file), 1u) << request_file << " is not in accounts.yaml";
      if (listed.count(request_file)) {
        EXPECT_EQ(listed.at(request_file), (Listed{method, path, "request"}));
      }
      used_.insert(request_file);
      body = api_file("examples/" + request_file);
    }
    auto r = server_->request(method, target, body);
    json actual = r.json();
    EXPECT_FALSE(actual.is_discarded()) << r.body;
    EXPECT_EQ(listed.count(response_file), 1u) << response_file << " is not in accounts.yaml";
    if (listed.count(response_file)) {
      EXPECT_EQ(listed.at(response_file), (Listed{method, path, std::to_string(r.status)}))
          << "the status the server answered is not the one the document lists the example "
             "under";
    }
    used_.insert(response_file);
    json ex = example(response_file);
    EXPECT_EQ(as_example(actual, ex), ex);
    YAML::Node schema = doc_.response_schema(method, path, r.status);
    for (const std::string& problem : doc_.check(actual, schema))
      ADD_FAILURE() << "response vs documented schema: " << problem << "\n" << r.body;
    for (const std::string& problem : doc_.check(ex, schema))
      ADD_FAILURE() << response_file << " vs documented schema: " << problem;
    return actual;
  }

  json list() { return server_->get("/v1/accounts/acme/policies").json(); }

  TempDir dir_;
  std::filesystem::path data_ = dir_.path() / "data";
  std::unique_ptr<ServerProcess> server_;
  AccountsDocument doc_;
  std::set<std::string> used_;
};

TEST_F(AccountsExamples, EveryExampleWorksInTheDocumentedOrder) {
  const std::string base = "/v1/accounts/acme/policies";
  const std::string keys = "/v1/accounts/acme/policy_keys";
  json created = step("POST", kPolicies, base, "accounts-policy.request.json",
                      "accounts-policy-created.response.json");
  const std::string id = created["result"].value("id", "");
  ASSERT_TRUE(is_uuid_v4(id)) << created;
  step("GET", kPolicies, base, "", "accounts-policy-list.response.json");
  step("GET", kPolicy, base + "/ticket-4711", "", "accounts-policy.response.json");
  step("PATCH", kPolicy, base + "/ticket-4711", "accounts-policy-patch.request.json",
       "accounts-policy-patched.response.json");
  step("PUT", kPolicy, base + "/" + id, "accounts-policy-replace.request.json",
       "accounts-policy-replaced.response.json");
  // Every version stays readable.
  step("GET", kVersions, base + "/ticket-4712/versions", "",
       "accounts-policy-versions.response.json");
  step("GET", kVersion, base + "/" + id + "/versions/1", "",
       "accounts-policy-version.response.json");
  step("GET", kVersion, base + "/ticket-4712/versions/4", "",
       "accounts-policy-version-not-found.response.json");

  // A fresh key opens to the documented policy; so does the documented key.
  json sealed = step("POST", kKeys, keys, "accounts-policy-key.request.json",
                     "accounts-policy-key.response.json");
  auto fresh = server_->get(keys + "/" + sealed.value("key-string", ""));
  EXPECT_EQ(fresh.json(), example("accounts-policy-key-open.response.json"));
  const std::string key = example("accounts-policy-key.response.json")["key-string"];
  EXPECT_EQ(example("accounts-policy-from-key.request.json")["policy_key"], key)
      << "the from-key example should use the documented key";
  step("GET", kKey, keys + "/" + key, "", "accounts-policy-key-open.response.json");
  step("POST", kPolicies, base, "accounts-policy-from-key.request.json",
       "accounts-policy-from-key.response.json");

  // Errors change nothing.
  step("POST", kPolicies, base, "accounts-policy.request.json",
       "accounts-policy-created.response.json");  // a second policy with refid ticket-4711
  json before = list();
  step("DELETE", kPolicy, base + "/ticket-4711", "", "accounts-ambiguous-refid.response.json");
  std::string tampered = key;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  step("GET", kKey, keys + "/" + tampered, "", "accounts-invalid-policy-key.response.json");
  step("POST", kPolicies, base, "accounts-policy-unknown-field.request.json",
       "accounts-unknown-field.response.json");
  EXPECT_EQ(list(), before);

  step("DELETE", kPolicy, base + "/" + id, "", "accounts-policy-deleted.response.json");
  step("GET", kPolicy, base + "/ticket-4712", "", "accounts-policy-not-found.response.json");
  EXPECT_EQ(list().size(), before.size() - 1);

  for (const auto& [file, where] : doc_.listed())
    EXPECT_TRUE(used_.count(file)) << file << " (" << where.method << " " << where.path << " "
                                   << where.where << ") is documented but no step sends it";
}

TEST_F(AccountsExamples, EveryAccountsExampleFileIsInTheDocument) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(WIRETAG_API_DIR) + "/examples")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("accounts-", 0) != 0) continue;
    ++files;
    EXPECT_EQ(doc_.listed().count(name), 1u) << name << " is not referenced by accounts.yaml";
    EXPECT_FALSE(example(name).is_discarded());
  }
  EXPECT_GE(files, 15);
}

TEST_F(AccountsExamples, EveryDocumentedOperationIsRouted) {
  ASSERT_EQ(doc_.operations().size(), 10u);
  for (const auto& [method, path] : doc_.operations()) {
    std::string target = std::regex_replace(path, std::regex(R"(\{account_id\})"), "acme");
    target = std::regex_replace(target, std::regex(R"(\{[^}]+\})"), "x");
    auto r = server_->request(method, target, "{}");
    EXPECT_NE(r.status, 0) << method << " " << path;
    EXPECT_NE(r.error_code(), "ROUTE_NOT_FOUND") << method << " " << path;
    EXPECT_NE(r.error_code(), "METHOD_NOT_ALLOWED") << method << " " << path;
    // Whatever it answered is a status the document lists, with the documented shape.
    YAML::Node schema = doc_.response_schema(method, path, r.status);
    EXPECT_TRUE(schema) << method << " " << path << " answered undocumented " << r.status;
    if (schema)
      for (const std::string& problem : doc_.check(r.json(), schema))
        ADD_FAILURE() << method << " " << path << ": " << problem;
  }
}

TEST_F(AccountsExamples, UnauthenticatedRequestsGetTheDocumented401) {
  for (const auto& [method, path] : doc_.operations()) {
    std::string target = std::regex_replace(path, std::regex(R"(\{[^}]+\})"), "x");
    auto r = server_->request(method, target, "{}", std::string("wt_not_a_token"));
    EXPECT_EQ(r.status, 401) << method << " " << path;
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
    YAML::Node schema = doc_.response_schema(method, path, 401);
    ASSERT_TRUE(schema) << method << " " << path << " documents no 401";
    EXPECT_TRUE(doc_.check(r.json(), schema).empty());
  }
}

}  // namespace
}  // namespace wiretag::test
