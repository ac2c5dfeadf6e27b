#include "server/lifecycle_api.h"

#include <atomic>
#include <boost/asio/ip/host_name.hpp>

#include "common/yaml_json.h"
#include "http/json_input.h"
#include "server/accounts_api.h"
#include "server/onap_headers.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A request body as JSON: YAML when Content-Type says so, JSON when it says so or is absent.
Result<json> parse_body(const Request& req) {
  const std::string type = lower(req.header("content-type"));
  if (type.find("yaml") != std::string::npos) {
    WT_TRY(doc, yaml_to_json(req.body));
    if (!doc->is_object())
      return Error{"INVALID_BODY", "the body must be a TOSCA service template"};
    return std::move(*doc);
  }
  if (!type.empty() && type.find("json") == std::string::npos)
    return Error{"UNSUPPORTED_MEDIA_TYPE",
                 "Content-Type must be application/json or application/yaml, not " + type};
  return http::parse_json_object(req.body);
}

// YAML when the first of json or yaml that Accept names is yaml.
bool wants_yaml(const Request& req) {
  const std::string accept = lower(req.header("accept"));
  const size_t y = accept.find("yaml"), j = accept.find("json");
  return y != std::string::npos && (j == std::string::npos || y < j);
}

// GET's ?mode=bare|referenced (ONAP's PolicyFetchMode): referenced adds the policies' types.
Result<bool> referenced_mode(const Request& req) {
  for (const auto& [key, value] : req.query)
    if (key != "mode" && key != "requestID")
      return Error{"INVALID_QUERY", "unknown query parameter \"" + key + "\""};
  const std::string mode = lower(req.query_value("mode"));
  if (mode.empty() || mode == "bare") return false;
  if (mode == "referenced") return true;
  return Error{"INVALID_QUERY", "mode must be BARE or REFERENCED"};
}

enum class Counted { Other, PolicyType, Policy };

// ONAP's StatisticsReport counters: every call, and GETs and POSTs of types and policies.
struct Statistics {
  std::atomic<int64_t> total{0}, success{0}, failure{0};
  std::atomic<int64_t> get[3][2]{}, post[3][2]{};  // [Counted][failed]

  void count(Counted what, http::Method method, bool ok) {
    ++total;
    ++(ok ? success : failure);
    auto k = static_cast<int>(what);
    if (method == http::Method::Get) ++get[k][ok ? 0 : 1];
    if (method == http::Method::Post) ++post[k][ok ? 0 : 1];
  }
  json report() const {
    auto n = [](const std::atomic<int64_t>& a) { return a.load(); };
    const int t = static_cast<int>(Counted::PolicyType), p = static_cast<int>(Counted::Policy);
    return {{"code", 200},
            {"totalApiCallCount", n(total)},
            {"apiCallSuccessCount", n(success)},
            {"apiCallFailureCount", n(failure)},
            {"totalPolicyGetCount", n(get[p][0]) + n(get[p][1])},
            {"totalPolicyPostCount", n(post[p][0]) + n(post[p][1])},
            {"totalPolicyTypeGetCount", n(get[t][0]) + n(get[t][1])},
            {"totalPolicyTypePostCount", n(post[t][0]) + n(post[t][1])},
            {"policyGetSuccessCount", n(get[p][0])},
            {"policyGetFailureCount", n(get[p][1])},
            {"policyPostSuccessCount", n(post[p][0])},
            {"policyPostFailureCount", n(post[p][1])},
            {"policyTypeGetSuccessCount", n(get[t][0])},
            {"policyTypeGetFailureCount", n(get[t][1])},
            {"policyTypePostSuccessCount", n(post[t][0])},
            {"policyTypePostFailureCount", n(post[t][1])}};
  }
};

class LifecycleApi {
 public:
  LifecycleApi(Store& store, Authenticator& auth, const PapCredentials& credentials)
      : types_(store), policies_(store), auth_(auth), credentials_(credentials) {}

  Result<Reply> healthcheck(const Request&) {
    auto probe = types_.list();
    const bool healthy = probe.ok();
    json report = {{"name", "Policy API"},
                   {"url", boost::asio::ip::host_name()},
                   {"healthy", healthy},
                   {"code", healthy ? 200 : 503},
                   {"message", healthy ? "alive" : "unable to reach the store"}};
    return Reply{healthy ? 200u : 503u, report};
  }

  Result<Reply> statistics(const Request&) { return Reply{200, stats_.report()}; }

  Result<Reply> list_types(const Request&) {
    WT_TRY(types, types_.list());
    return Reply{200, policy_types_template(*types)};
  }

  Result<Reply> type_versions(const Request& req) {
    WT_TRY(types, types_.versions(req.param("type")));
    return Reply{200, policy_types_template(*types)};
  }

  Result<Reply> type_version(const Request& req) {
    WT_TRY(type, types_.get(req.param("type"), req.param("type_version")));
    return Reply{200, policy_types_template({*type})};
  }

  Result<Reply> create_types(const Request& req) {
    WT_TRY(body, parse_body(req));
    WT_TRY(types, types_.create(*body));
    return Reply{201, policy_types_template(*types)};
  }

  Result<Reply> delete_type(const Request& req) {
    WT_TRY(type, types_.remove(req.param("type"), req.param("type_version")));
    return Reply{200, policy_types_template({*type})};
  }

  // GET /policies…, /policytypes/:type/versions/:type_version/policies…
  Result<Reply> get_policies(const Request& req) {
    WT_TRY(referenced, referenced_mode(req));
    WT_TRY(found, policies_.list(query_of(req)));
    json out = tosca_policies_template(*found);
    if (*referenced) {
      std::vector<PolicyType> types;
      for (const Policy& p : *found) {
        const json def = to_tosca(p).begin().value();
        WT_TRY(t,
               types_.get(def["type"].get<std::string>(), def["type_version"].get<std::string>()));
        bool known = false;
        for (const PolicyType& k : types)
          known = known || (k.name == t->name && k.version == t->version);
        if (!known) types.push_back(*t);
      }
      json more = policy_types_template(types);
      out["data_types"] = more["data_types"];
      out["policy_types"] = more["policy_types"];
    }
    return Reply{200, out};
  }

  Result<Reply> create_policies(const Request& req) {
    WT_TRY(body, parse_body(req));
    WT_TRY(created, policies_.create(*body, query_of(req)));
    return Reply{201, tosca_policies_template(*created)};
  }

  Result<Reply> delete_policy(const Request& req) {
    WT_TRY(removed, policies_.remove(query_of(req)));
    return Reply{200, tosca_policies_template({*removed})};
  }

  // Basic auth as the PAP takes it, or an admin bearer token.
  Result<void> authenticate(const Request& req) const {
    if (lower(req.authorization.substr(0, 6)) == "basic ") {
      auto user = credentials_.authenticate(req.authorization);
      if (!user) return user.error();
      req.set_principal("pap:" + *user);  // whom the writes it queues record
      return Ok();
    }
    WT_TRY(who, auth_.authenticate(req));
    if (!who->admin)
      return Error{"FORBIDDEN",
                   "the lifecycle API needs a network.admin token or the PAP's basic auth"};
    return Ok();
  }

  Result<Reply> admit(const Request&) { return Reply{204, nullptr}; }

  // Auth, request id, version headers and YAML around every handler, errors included.
  http::Handler wrap(Result<Reply> (LifecycleApi::*fn)(const Request&), Counted counted,
                     const std::shared_ptr<LifecycleApi>& self) {
    return [self, fn, counted](const Request& req) -> Result<Reply> {
      std::string id = req.header("x-onap-requestid");
      if (id.empty() || id.size() > 128 ||
          std::any_of(id.begin(), id.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; }))
        id = random_uuid();
      auto who = self->authenticate(req);
      Result<Reply> r = who ? ((*self).*fn)(req) : Result<Reply>(who.error());
      if (fn != &LifecycleApi::admit) self->stats_.count(counted, req.method, r.ok());
      Reply out = r ? std::move(r).value() : http::error_reply(r.error());
      if (r && wants_yaml(req) && !out.body.is_null()) {
        out.serialized = std::make_shared<const std::string>(json_to_yaml(out.body));
        out.headers.emplace_back("Content-Type", "application/yaml");
      }
      out.headers.emplace_back("x-onap-requestid", id);
      return out;
    };
  }

 private:
  static ToscaPolicyQuery query_of(const Request& req) {
    ToscaPolicyQuery q;
    auto set = [&](std::optional<std::string>& field, const char* name) {
      if (req.params.count(name)) field = req.param(name);
    };
    set(q.type, "type");
    set(q.type_version, "type_version");
    set(q.id, "id");
    set(q.version, "version");
    return q;
  }

  PolicyTypes types_;
  ToscaPolicies policies_;
  Authenticator& auth_;
  const PapCredentials& credentials_;
  Statistics stats_;
};

}  // namespace

void add_lifecycle_routes(http::Router& router, Store& store, Authenticator& auth,
                          const PapCredentials& credentials) {
  auto api = std::make_shared<LifecycleApi>(store, auth, credentials);
  dress_with_onap_headers(router, {kLifecycleBase});
  using C = Counted;
  auto h = [api](auto fn, Counted c = C::Other) { return api->wrap(fn, c, api); };
  const std::string b(kLifecycleBase);
  const std::string type = b + "/policytypes/:type/versions/:type_version";
  router.get(b + "/healthcheck", h(&LifecycleApi::healthcheck))
      .get(b + "/statistics", h(&LifecycleApi::statistics))
      .get(b + "/policytypes", h(&LifecycleApi::list_types, C::PolicyType))
      .post(b + "/policytypes", h(&LifecycleApi::create_types, C::PolicyType))
      .get(b + "/policytypes/:type", h(&LifecycleApi::type_versions, C::PolicyType))
      .get(type, h(&LifecycleApi::type_version, C::PolicyType))
      .del(type, h(&LifecycleApi::delete_type, C::PolicyType))
      .get(type + "/policies", h(&LifecycleApi::get_policies, C::Policy))
      .post(type + "/policies", h(&LifecycleApi::create_policies, C::Policy))
      .get(type + "/policies/:id", h(&LifecycleApi::get_policies, C::Policy))
      .get(type + "/policies/:id/versions/:version", h(&LifecycleApi::get_policies, C::Policy))
      .del(type + "/policies/:id/versions/:version", h(&LifecycleApi::delete_policy, C::Policy))
      .get(b + "/policies", h(&LifecycleApi::get_policies, C::Policy))
      .post(b + "/policies", h(&LifecycleApi::create_policies, C::Policy))
      .get(b + "/policies/:id", h(&LifecycleApi::get_policies, C::Policy))
      .get(b + "/policies/:id/versions/:version", h(&LifecycleApi::get_policies, C::Policy))
      .del(b + "/policies/:id/versions/:version", h(&LifecycleApi::delete_policy, C::Policy));
  // Credentials are checked on the head, before a body is read, and refused as wrap() does.
  router.admit_by({b}, h(&LifecycleApi::admit));
}

}  // namespace wiretag
