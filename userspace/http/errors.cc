#include "http/errors.h"

#include <string_view>

#include "http/authorization.h"

namespace wiretag::http {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

unsigned status_for(const Error& error) {
  const std::string_view code = error.code;
  if (code == "UNAUTHORIZED") return 401;
  if (code == "FORBIDDEN" || code == "CELL_MISMATCH") return 403;
  if (code == "METHOD_NOT_ALLOWED") return 405;
  if (code == "INVALID_POLICY_KEY") return 404;  // seed 003: an undecryptable key is "not found"
  if (ends_with(code, "_NOT_FOUND")) return 404;
  if (code == "TAGS_EXHAUSTED" || code == "CONFLICT" || ends_with(code, "_EXISTS") ||
      code == "TAG_LENGTH_MISMATCH" || code == "GROUP_NOT_PASSIVE" ||
      code == "GROUP_IN_SAFE_STATE" || code == "SUBGROUP_HAS_NO_PDP" ||
      code == "SUBGROUP_HAS_POLICIES" || code == "NO_ACTIVE_GROUP" || code == "POLICY_DEPLOYED" ||
      code == "LAST_ADMIN_TOKEN" || code == "CELL_NOT_ASSIGNED")
    return 409;
  // The agent's datapath: another namespace's device holds the ifindex; a capacity reached
  // (--max-endpoints, --max-policy-entries) is the cell's storage, not the agent's fault.
  if (code == "IFINDEX_CONFLICT") return 409;
  if (code == "ENDPOINTS_FULL" || code == "MAP_FULL") return 507;
  if (code.starts_with("INVALID_") || code == "UNKNOWN_FIELD" || code == "MISSING_FIELD" ||
      code == "AMBIGUOUS_REFID" || code == "BAD_REQUEST" || code == "BODY_TOO_LARGE" ||
      code == "NAME_MISMATCH" || code == "POLICY_TOO_LARGE_FOR_KEY" || code == "FIELD_TOO_LONG")
    return 400;
  if (code == "JSON_TOO_DEEP" || code == "FIELD_TOO_LONG") return 400;
  if (code == "SOURCE_TAG_UNKNOWN") return 400;  // a trace's source the cell cannot resolve
  if (code == "UNAVAILABLE") return 503;
  if (code == "UPSTREAM_ERROR") return 502;  // the policy server erred behind the agent
  // The HTTP layer's own refusals (http/server.cc).
  if (code == "MISSING_HOST" || code == "TLS_REQUIRED") return 400;
  if (code == "UNSUPPORTED_TRANSFER_ENCODING") return 501;
  if (code == "SERVER_BUSY") return 503;
  // Requests to a cell (server/cell_requests.h): no open watch or no answer in time; an op
  // the cell's agent does not know; a cell's error that must not pass as the caller's.
  if (code == "CELL_UNREACHABLE") return 503;
  if (code == "CELL_OP_UNSUPPORTED") return 501;
  if (code == "CELL_ERROR") return 502;
  // The cell could not resync from the server when asked (the services API's resync action).
  if (code == "RESYNC_FAILED") return 502;
  // The services API (server/services_api.h): a filter on a column the table lacks; a data
  // source asked for policies (seed 001: the proposal's known cost); an alias the default names.
  if (code == "UNKNOWN_COLUMN") return 400;
  if (code == "SERVICE_HAS_NO_POLICIES") return 404;
  if (code == "ALIAS_IN_USE") return 409;
  // The lifecycle API (server/lifecycle_api.h): ONAP answers 406 to a changed immutable
  // version; a type in use or read-only is a conflict; property errors name their path.
  if (code == "POLICY_VERSION_CONFLICT" || code == "POLICY_TYPE_VERSION_CONFLICT") return 406;
  if (code == "POLICY_TYPE_IN_USE" || code == "POLICY_TYPE_READ_ONLY" ||
      code == "POLICY_ID_RETIRED")
    return 409;
  if (code == "UNKNOWN_PROPERTY" || code == "MISSING_PROPERTY") return 400;
  if (code == "UNSUPPORTED_MEDIA_TYPE") return 415;
  if (code == "EMPTY_DOCUMENT" || code == "YAML_TOO_DEEP" || code == "UNSUPPORTED_YAML" ||
      code == "YAML_TOO_LARGE")
    return 400;
  return 500;
}

Reply error_reply(const Error& error) {
  nlohmann::json item = {{"error_code", error.code}, {"message", error.message}};
  Reply reply{status_for(error), nlohmann::json::array({item})};
  // RFC 9110 §15.5.2: every 401 says how to authenticate.
  if (reply.status == 401)
    reply.headers.emplace_back("WWW-Authenticate", error.challenge.empty()
                                                       ? std::string(kBearerChallenge)
                                                       : error.challenge);
  return reply;
}

}  // namespace wiretag::http
