#include "server/accounts_api.h"

#include <openssl/rand.h>

#include <charconv>
#include <cstdio>

#include "core/app_guid.h"
#include "http/json_input.h"
#include "server/app_access.h"
#include "server/rule_input.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

// name, refid (string or null) and rules, each optional here; create/replace require more.
Result<PolicyDraft> parse_draft(const std::string& body) {
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(*j, {}, {"name", "refid", "rules"}); !r) return r.error();
  PolicyDraft d;
  WT_TRY(name, http::optional_string_field(*j, "name"));
  d.name = *name;
  if (auto it = j->find("refid"); it != j->end()) {
    if (it->is_null())
      d.refid = std::optional<std::string>{};
    else if (it->is_string())
      d.refid = std::optional<std::string>{it->get<std::string>()};
    else
      return Error{"INVALID_FIELD_TYPE", "field \"refid\" must be a string or null"};
  }
  if (auto it = j->find("rules"); it != j->end()) {
    if (!it->is_array()) return Error{"INVALID_FIELD_TYPE", "field \"rules\" must be an array"};
    std::vector<PolicyRule> rules;
    for (const json& r : *it) {
      WT_TRY(rule, parse_rule(r));
      rules.push_back(*rule);
    }
    d.rules = std::move(rules);
  }
  return d;
}

json draft_json(const PolicyDraft& d) {
  json out = {{"name", d.name.value_or("")},
              {"rules", to_json(d.rules.value_or(std::vector<PolicyRule>{}))}};
  out["refid"] = d.refid && *d.refid ? json(**d.refid) : json(nullptr);
  return out;
}

// "N" or "N.0.0" (the PAP's name of version N), N ≥ 1.
Result<int64_t> version_number(std::string text) {
  if (text.size() > 4 && text.ends_with(".0.0")) text.resize(text.size() - 4);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1)
    return Error{"INVALID_VERSION", "a policy version is a positive integer N (or N.0.0)"};
  return n;
}

// A draft complete enough to become a policy: name and rules present and valid.
Result<void> check_complete(const PolicyDraft& d) {
  if (!d.name) return Error{"MISSING_FIELD", "missing required field \"name\""};
  if (!d.rules) return Error{"MISSING_FIELD", "missing required field \"rules\""};
  return check_policy_draft(d);
}

class AccountsApi {
 public:
  AccountsApi(AccountPolicies& policies, PolicyGraph& graph, Authenticator& auth,
              const PolicyKeySealer& keys)
      : policies_(policies), graph_(graph), auth_(auth), keys_(keys) {}

  // POST /policy_keys: the policy sealed into a key-string bound to the account.
  Result<Reply> seal(const Request& req) {
    Principal who;
    WT_TRY(acct, account(req, &who));
    WT_TRY(draft, parse_draft(req.body));
    if (auto r = check_complete(*draft); !r) return r.error();
    if (auto r = check_rule_apps(graph_, who, *draft); !r) return r.error();
    json policy = draft_json(*draft);
    WT_TRY(key, keys_.seal(*acct, policy.dump()));
    return Reply{200, json{{"key-string", *key}, {"policy", policy}}};
  }

  // GET /policy_keys/:key: the policy inside, if the key is genuine and this account's.
  Result<Reply> unseal(const Request& req) {
    WT_TRY(acct, account(req));
    WT_TRY(draft, draft_from_key(*acct, req.param("key")));
    return Reply{200, draft_json(*draft)};
  }

  Result<PolicyDraft> draft_from_key(const std::string& acct, std::string_view key) {
    WT_TRY(plain, keys_.open_key(acct, key));
    WT_TRY(draft, parse_draft(*plain));
    if (auto r = check_complete(*draft); !r) return r.error();
    return *draft;
  }

  // The account of the path, if the caller may act on it; ACCOUNT_NOT_FOUND otherwise.
  // principal, if given, receives who the caller is.
  Result<std::string> account(const Request& req, Principal* principal = nullptr) {
    WT_TRY(who, auth_.authenticate(req));
    std::string account = req.param("account_id");
    if (auto r = check_account_id(account); !r) return r.error();
    if (!who->can_access(account))
      return Error{"ACCOUNT_NOT_FOUND", "no account \"" + account + "\" for this token"};
    if (principal) *principal = std::move(*who);
    return account;
  }

  Result<Reply> list(const Request& req) {
    WT_TRY(acct, account(req));
    WT_TRY(all, policies_.list(*acct));
    json out = json::array();
    for (const Policy& p : *all) out.push_back(to_json(p));
    return Reply{200, out};
  }

  Result<Reply> get(const Request& req) {
    WT_TRY(acct, account(req));
    WT_TRY(p, policies_.get(*acct, req.param("id")));
    return Reply{200, to_json(*p)};
  }

  // POST /policies: a policy, or {"policy_key"} to create one from a key.
  Result<Reply> create(const Request& req) {
    Principal who;
    WT_TRY(acct, account(req, &who));
    WT_TRY(body, http::parse_json_object(req.body));
    if (body->contains("policy_key")) {
      if (auto r = http::check_fields(*body, {"policy_key"}); !r) return r.error();
      WT_TRY(key, http::string_field(*body, "policy_key"));
      WT_TRY(from_key, draft_from_key(*acct, *key));
      if (auto r = check_rule_apps(graph_, who, *from_key); !r) return r.error();
      WT_TRY(p, policies_.create(*acct, *from_key));
      return Reply{201, json{{"result", to_json(*p)}}};
    }
    WT_TRY(draft, parse_draft(req.body));
    if (auto r = check_rule_apps(graph_, who, *draft); !r) return r.error();
    WT_TRY(p, policies_.create(*acct, *draft));
    return Reply{201, json{{"result", to_json(*p)}}};
  }

  Result<Reply> update(const Request& req, bool replace) {
    Principal who;
    WT_TRY(acct, account(req, &who));
    WT_TRY(draft, parse_draft(req.body));
    if (auto r = check_rule_apps(graph_, who, *draft); !r) return r.error();
    WT_TRY(p, policies_.update(*acct, req.param("id"), *draft, replace));
    return Reply{200, json{{"result", to_json(*p)}}};
  }

  // GET /policies/:id/versions: every version, oldest first (also of a deleted policy, by id).
  Result<Reply> versions(const Request& req) {
    WT_TRY(acct, account(req));
    WT_TRY(all, policies_.versions(*acct, req.param("id")));
    json out = json::array();
    for (const Policy& p : *all) out.push_back(to_json(p));
    return Reply{200, out};
  }

  // GET /policies/:id/versions/:version: one version (N, or N.0.0 as the PAP names it).
  Result<Reply> version(const Request& req) {
    WT_TRY(acct, account(req));
    WT_TRY(n, version_number(req.param("version")));
    WT_TRY(p, policies_.version(*acct, req.param("id"), *n));
    return Reply{200, to_json(*p)};
  }

  Result<Reply> remove(const Request& req) {
    WT_TRY(acct, account(req));
    if (auto r = policies_.remove(*acct, req.param("id")); !r) return r.error();
    return Reply{200, json{{"status", "success"}}};
  }

 private:
  AccountPolicies& policies_;
  PolicyGraph& graph_;
  Authenticator& auth_;
  const PolicyKeySealer& keys_;
};

}  // namespace

std::string random_uuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

void add_account_routes(http::Router& router, AccountPolicies& policies, PolicyGraph& graph,
                        Authenticator& auth, const PolicyKeySealer& keys) {
  auto api = std::make_shared<AccountsApi>(policies, graph, auth, keys);
  const std::string base = "/v1/accounts/:account_id/policies";
  router.get(base, [api](const Request& q) { return api->list(q); })
      .post(base, [api](const Request& q) { return api->create(q); })
      .get(base + "/:id", [api](const Request& q) { return api->get(q); })
      .put(base + "/:id", [api](const Request& q) { return api->update(q, true); })
      .patch(base + "/:id", [api](const Request& q) { return api->update(q, false); })
      .del(base + "/:id", [api](const Request& q) { return api->remove(q); })
      .get(base + "/:id/versions", [api](const Request& q) { return api->versions(q); })
      .get(base + "/:id/versions/:version", [api](const Request& q) { return api->version(q); });
  const std::string keys_base = "/v1/accounts/:account_id/policy_keys";
  router.post(keys_base, [api](const Request& q) { return api->seal(q); })
      .get(keys_base + "/:key", [api](const Request& q) { return api->unseal(q); });
  router.admit({"/v1/accounts"}, [&auth](const Request& q) { return auth.authenticate(q); });
}

}  // namespace wiretag
