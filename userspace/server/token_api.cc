#include "server/token_api.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "core/app_guid.h"
#include "core/field_limits.h"
#include "http/json_input.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

json rfc3339(const std::optional<int64_t>& seconds) {
  if (!seconds) return nullptr;
  std::time_t t = static_cast<std::time_t>(*seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// What GET /v1/tokens shows of a token: never the secret nor its hash.
json token_json(const TokenRecord& t) {
  return {{"id", t.id},
          {"scopes", t.scopes},
          {"accounts", t.accounts},
          {"cell", t.cell.empty() ? json(nullptr) : json(t.cell)},
          {"description", t.description},
          {"created", rfc3339(t.created_at)},
          {"expires", rfc3339(t.expires_at)},
          {"last_used", rfc3339(t.last_used_at)}};
}

json issued_json(const IssuedToken& issued) {
  json out = token_json(issued.record);
  out["token"] = issued.secret;
  return out;
}

Result<std::vector<std::string>> strings(const json& body, const char* key) {
  std::vector<std::string> out;
  if (!body.contains(key)) return out;
  const json& v = body[key];
  if (!v.is_array()) return Error{"INVALID_FIELD_TYPE", std::string(key) + " must be an array"};
  for (const json& s : v) {
    if (!s.is_string()) return Error{"INVALID_FIELD_TYPE", std::string(key) + " must hold strings"};
    out.push_back(s.get<std::string>());
  }
  return out;
}

// {"scopes":[…],"accounts"?:[…],"cell"?,"description"?,"expires_in"?}
Result<TokenGrant> parse_grant(const std::string& text) {
  WT_TRY(body, http::parse_json_object(text));
  if (auto r =
          http::check_fields(*body, {"scopes"}, {"accounts", "cell", "description", "expires_in"});
      !r)
    return r.error();
  TokenGrant grant;
  WT_TRY(scopes, strings(*body, "scopes"));
  grant.scopes = std::move(*scopes);
  WT_TRY(accounts, strings(*body, "accounts"));
  grant.accounts = std::move(*accounts);
  for (const std::string& a : grant.accounts)
    if (auto r = check_account_id(a); !r) return r.error();
  WT_TRY(cell, http::optional_string_field(*body, "cell"));
  grant.cell = cell->value_or("");
  if (cell->has_value() && grant.cell.empty())
    return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
  WT_TRY(description, http::optional_string_field(*body, "description"));
  grant.description = description->value_or("");
  if (auto r = check_text(grant.description, "description"); !r) return r.error();
  if (auto it = body->find("expires_in"); it != body->end()) {
    if (!it->is_number_integer())
      return Error{"INVALID_FIELD_TYPE", "expires_in must be an integer (seconds)"};
    grant.expires_in = it->get<int64_t>();
  }
  return grant;
}

// Tokens live outside the change log: each write is logged here, with who made it.
void log_token_write(const Request& req, std::string_view what, const std::string& id,
                     const json& extra = json::object()) {
  nlohmann::ordered_json fields = {{"kind", what}, {"token", id}, {"principal", *req.principal}};
  for (const auto& [key, value] : extra.items()) fields[key] = value;
  log_record(spdlog::level::info, "change", "token write", fields);
}

class TokenApi {
 public:
  explicit TokenApi(Authenticator& auth) : auth_(auth) {}

  // POST /v1/tokens → 201 the token as listed, plus "token": the secret, shown only now.
  Result<Reply> issue(const Request& req) {
    if (auto r = admin(req); !r) return r.error();
    WT_TRY(grant, parse_grant(req.body));
    WT_TRY(issued, auth_.issue(std::move(*grant)));
    log_token_write(req, "token.issued", issued->record.id,
                    {{"scopes", issued->record.scopes}, {"accounts", issued->record.accounts}});
    return Reply{201, issued_json(*issued)};
  }

  // GET /v1/tokens → {"tokens":[…]}
  Result<Reply> list(const Request& req) {
    if (auto r = admin(req); !r) return r.error();
    WT_TRY(all, auth_.list());
    json out = json::array();
    for (const TokenRecord& t : *all) out.push_back(token_json(t));
    return Reply{200, json{{"tokens", out}}};
  }

  // DELETE /v1/tokens/:id: the token stops working at once.
  Result<Reply> revoke(const Request& req) {
    if (auto r = admin(req); !r) return r.error();
    if (auto r = auth_.revoke(req.param("id")); !r) return r.error();
    log_token_write(req, "token.revoked", req.param("id"));
    return Reply{200, json{{"status", "success"}}};
  }

  // POST /v1/tokens/rotate-admin (no body): a new admin token in <data-dir>/admin-token, the
  // one the file held revoked.
  Result<Reply> rotate_admin(const Request& req) {
    if (auto r = admin(req); !r) return r.error();
    if (!req.body.empty()) return Error{"INVALID_BODY", "rotate-admin takes no body"};
    std::string revoked;
    WT_TRY(issued, auth_.rotate_admin(revoked));
    log_token_write(req, "token.admin_rotated", issued->record.id, {{"revoked", revoked}});
    json out = issued_json(*issued);
    out["revoked"] = revoked.empty() ? json(nullptr) : json(revoked);
    return Reply{201, out};
  }

 private:
  Result<void> admin(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    if (!who->admin) return Error{"FORBIDDEN", "managing tokens needs network.admin"};
    return Ok();
  }

  Authenticator& auth_;
};

}  // namespace

void add_token_routes(http::Router& router, Authenticator& auth) {
  auto api = std::make_shared<TokenApi>(auth);
  router.post("/v1/tokens", [api](const Request& q) { return api->issue(q); })
      .get("/v1/tokens", [api](const Request& q) { return api->list(q); })
      .post("/v1/tokens/rotate-admin", [api](const Request& q) { return api->rotate_admin(q); })
      .del("/v1/tokens/:id", [api](const Request& q) { return api->revoke(q); });
}

}  // namespace wiretag
