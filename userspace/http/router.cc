#include "http/router.h"

#include <memory>
#include <optional>

#include "common/acting_principal.h"

namespace wiretag::http {
namespace {

// "/a//b%2Fc" -> {"a", "", "b%2Fc"}: every '/' after the leading one ends a segment, so an
// empty segment stays one (and matches nothing) and an encoded '/' stays inside its segment.
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

std::string lower_case(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Error bad_path_encoding() { return Error{"INVALID_PATH", "bad percent-encoding in the path"}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// The raw segments of a path, each percent-decoded; nullopt on bad percent-encoding.
std::optional<std::vector<std::string>> decoded_segments(std::string_view raw_path) {
  std::vector<std::string> segments = split_path(raw_path);
  std::string decoded;
  for (std::string& s : segments) {
    if (!percent_decode(s, decoded, false)) return std::nullopt;
    s.swap(decoded);
  }
  return segments;
}

// Each ":name" segment of the pattern binds the corresponding (decoded) path segment; an
// empty segment matches nothing. A last "*name" segment binds the rest of the path, zero or
// more segments joined by '/' (empty ones too: the handler judges them).
bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::map<std::string, std::string>& params) {
  const bool rest = !pattern.empty() && pattern.back().starts_with('*');
  const size_t fixed = rest ? pattern.size() - 1 : pattern.size();
  if (rest ? path.size() < fixed : pattern.size() != path.size()) return false;
  std::map<std::string, std::string> bound;
  if (rest) {
    std::string tail;
    for (size_t i = fixed; i < path.size(); ++i) tail += (i == fixed ? "" : "/") + path[i];
    bound[pattern.back().substr(1)] = std::move(tail);
  }
  for (size_t i = 0; i < fixed; ++i) {
    if (path[i].empty()) return false;
    if (!pattern[i].empty() && pattern[i][0] == ':') {
      bound[pattern[i].substr(1)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  params = std::move(bound);
  return true;
}

}  // namespace

std::string_view method_name(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Patch:
      return "PATCH";
    case Method::Delete:
      return "DELETE";
    case Method::Head:
      return "HEAD";
    case Method::Other:
      break;
  }
  return "OTHER";
}

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string Request::query_value(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Router& Router::add(Method method, std::string_view pattern, Handler handler) {
  return add_async(
      method, pattern,
      [handler = std::move(handler)](const Request& q, Respond respond) { respond(handler(q)); });
}

Router& Router::add_async(Method method, std::string_view pattern, AsyncHandler handler) {
  routes_.push_back(
      Route{method, split_path(pattern), std::move(handler), api_, std::string(pattern)});
  return *this;
}

const Router::Route* Router::route_for(const Request& request) const {
  const auto segments =
      request.path.starts_with('/') ? decoded_segments(request.path) : std::nullopt;
  if (!segments) return nullptr;
  const Route* any = nullptr;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match(r.segments, *segments, params)) continue;
    if (r.method == request.method) return &r;
    if (!any) any = &r;
  }
  return any;
}

void Router::report(const Route* route, const Request& request, const Reply& reply,
                    std::chrono::steady_clock::time_point started) const {
  std::string request_id;
  for (const auto& [name, value] : reply.headers)
    if (lower_case(name) == "x-onap-requestid") request_id = value;
  if (request_id.empty()) request_id = request.header("x-onap-requestid");
  if (request_id.empty()) request_id = request.header("x-request-id");
  const std::string& who = *request.principal;
  const Outcome outcome{route ? std::string_view(route->api) : "unmatched",
                        route ? std::string_view(route->pattern) : "unmatched",
                        request.method,
                        reply.status,
                        std::chrono::steady_clock::now() - started,
                        request.path,
                        who.empty() ? std::string_view(default_principal_) : std::string_view(who),
                        request_id};
  for (const OutcomeObserver& observe : observers_) observe(outcome);
}

void Router::dispatch(Request request, std::function<void(Reply)> done) const {
  // With observers, every answer is reported with the route it fell to (for a 405, the first
  // route with that path) and with what the request became known as (its principal).
  // Every answer is finished (dress()) before it is reported and sent.
  auto labelled = [&](const Route* route) -> std::function<void(Reply)> {
    if (observers_.empty() && dressings_.empty()) return std::move(done);
    Request head;  // the request without its body, for the report and the dressers
    head.method = request.method;
    head.path = request.path;
    head.query = request.query;
    head.headers = request.headers;
    head.principal = request.principal;
    return [this, route, head = std::move(head), started = std::chrono::steady_clock::now(),
            done = std::move(done)](Reply reply) {
      finish(head, reply);
      if (!observers_.empty()) report(route, head, reply, started);
      done(std::move(reply));
    };
  };
  const auto not_found = Error{"ROUTE_NOT_FOUND", "no such resource: " + request.path};
  if (!request.path.starts_with('/')) return labelled(nullptr)(error_reply(not_found));
  const auto segments = decoded_segments(request.path);
  if (!segments) return labelled(nullptr)(error_reply(bad_path_encoding()));
  const Route* path_route = nullptr;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!match(r.segments, *segments, params)) continue;
    if (!path_route) path_route = &r;
    if (r.method != request.method) continue;
    request.params = std::move(params);
    // Writes the handler queues record whom it acts for, once its authentication says.
    ActingPrincipal acting(request.principal);
    r.handler(request, [done = labelled(&r)](Result<Reply> reply) {
      if (!reply) return done(error_reply(reply.error()));
      done(std::move(reply).value());
    });
    return;
  }
  if (path_route) {
    // RFC 9110 §15.5.6: a 405 lists the methods the resource has.
    std::string allow;
    for (const Route& r : routes_) {
      std::map<std::string, std::string> ignored;
      const std::string name(method_name(r.method));
      if (match(r.segments, *segments, ignored) && allow.find(name) == std::string::npos)
        allow += (allow.empty() ? "" : ", ") + name;
    }
    Reply reply = error_reply(Error{"METHOD_NOT_ALLOWED", "method not allowed on " + request.path});
    reply.headers.emplace_back("Allow", allow);
    return labelled(path_route)(std::move(reply));
  }
  labelled(nullptr)(error_reply(not_found));
}

Reply Router::route(Request request) const {
  // Shared: a late answer must not write into this returned frame.
  auto out = std::make_shared<std::optional<Reply>>();
  dispatch(std::move(request), [out](Reply reply) { *out = std::move(reply); });
  if (!*out) return error_reply(Error{"ASYNC_ROUTE", "this route answers later; use dispatch()"});
  return std::move(**out);
}

Result<void> split_target(std::string_view target, std::string& path,
                          std::map<std::string, std::string>& query) {
  size_t q = target.find('?');
  path = target.substr(0, q);
  std::string decoded;
  if (!percent_decode(path, decoded, false)) return bad_path_encoding();
  query.clear();
  if (q == std::string_view::npos) return Ok();
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key, value;
    if (!percent_decode(pair.substr(0, eq), key, true) ||
        (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true)))
      return Error{"INVALID_QUERY", "bad percent-encoding in the query"};
    if (!key.empty()) query[key] = value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return Ok();
}

}  // namespace wiretag::http
