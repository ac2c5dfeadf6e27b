// Method + path pattern → handler. One function per API fills a Router, so each API's
// surface reads in one screen. Routing is a pure function from Request to Reply.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/errors.h"
#include "wiretag/result.h"

namespace wiretag::http {

// No route takes HEAD: it is answered 405 like any other method a path lacks, without content.
enum class Method { Get, Post, Put, Patch, Delete, Head, Other };
// "GET", "POST", ...; "OTHER".
std::string_view method_name(Method m);

struct Request {
  Method method = Method::Get;
  // As sent (still percent-encoded), without the query: the router splits it at each '/'
  // first and then decodes each segment, so "%2F" stays inside one segment.
  std::string path;
  std::map<std::string, std::string> query;    // percent-decoded
  std::map<std::string, std::string> params;   // from ":name" segments of the matched pattern
  std::string authorization;                   // the Authorization header, verbatim
  std::map<std::string, std::string> headers;  // every header, names in lower case
  // The cell a verified TLS client certificate names (mutual TLS), or empty.
  std::string peer_cell;
  std::string body;
  // Who the request acts for, as the auth layer names it once it knows ("token:ID",
  // "pap:USER", "cell:NAME"); empty until then. Every copy of a request shares it, so what a
  // handler's authentication notes is what the router reports, and what a write it queues
  // records (common/acting_principal.h).
  std::shared_ptr<std::string> principal = std::make_shared<std::string>();

  void set_principal(std::string who) const { *principal = std::move(who); }
  std::string param(const std::string& name) const;
  std::string query_value(const std::string& name) const;
  std::string header(const std::string& lower_case_name) const;
};

using Handler = std::function<Result<Reply>(const Request&)>;
// Answers a request once, from any thread, now or later.
using Respond = std::function<void(Result<Reply>)>;
// A handler that may answer later (a long poll) without holding a server thread meanwhile.
using AsyncHandler = std::function<void(const Request&, Respond)>;

// What the router answered to one request, for metrics and the access log: the API and route
// pattern it matched ("unmatched" for both when no pattern did), the status, and the time from
// dispatch (or the admission gate) to the reply (a streamed answer: to its head); the path as
// sent, who the request acted for (the router's default principal when the auth layer named
// no one) and its request id, when it has one (x-onap-requestid, x-request-id).
struct Outcome {
  std::string_view api;
  std::string_view route;
  Method method = Method::Get;
  unsigned status = 0;
  std::chrono::steady_clock::duration elapsed{};
  std::string_view path;
  std::string_view principal;
  std::string_view request_id;
};
using OutcomeObserver = std::function<void(const Outcome&)>;

class Router {
 public:
  // pattern: "/app/:app_guid/whitelist"; a ":name" segment matches one non-empty segment and
  // binds it percent-decoded (it may hold a '/': a parameter's own check refuses it). An
  // empty segment ("//", a trailing '/') matches no pattern: ROUTE_NOT_FOUND. A last segment
  // "*name" ("/ui/*file") binds the rest of the path, decoded segments joined by '/', possibly
  // empty ("/ui" and "/ui/" bind ""; empty segments are kept): the handler must check it.
  Router& add(Method method, std::string_view pattern, Handler handler);
  Router& get(std::string_view p, Handler h) { return add(Method::Get, p, std::move(h)); }
  Router& post(std::string_view p, Handler h) { return add(Method::Post, p, std::move(h)); }
  Router& put(std::string_view p, Handler h) { return add(Method::Put, p, std::move(h)); }
  Router& patch(std::string_view p, Handler h) { return add(Method::Patch, p, std::move(h)); }
  Router& del(std::string_view p, Handler h) { return add(Method::Delete, p, std::move(h)); }
  Router& add_async(Method method, std::string_view pattern, AsyncHandler handler);
  // Names the API of the routes added from now on (the `api` label of the HTTP metrics).
  Router& api(std::string_view name) {
    api_ = name;
    return *this;
  }
  // Each observer is called once for every request answered through dispatch() or refused by
  // admission(); add them before serving.
  void observe(OutcomeObserver observer) { observers_.push_back(std::move(observer)); }
  // Who a request acts for when no authentication named anyone ("anonymous" unless set, e.g.
  // the agent's root-only unix socket).
  void default_principal(std::string who) { default_principal_ = std::move(who); }

  // ROUTE_NOT_FOUND (404) when no pattern matches the path, METHOD_NOT_ALLOWED (405) when
  // one does for another method, INVALID_PATH (400) for bad percent-encoding in it; handler
  // errors go through error_reply(). `done` is called exactly once: at once for a plain
  // handler, whenever it answers for an async one.
  void dispatch(Request request, std::function<void(Reply)> done) const;
  // dispatch() for callers that need the reply now: an async handler that has not answered
  // by the time it returns gives 500 ASYNC_ROUTE.
  Reply route(Request request) const;

  // Admission (http/admission.cc): early gates on a request's head (method, path, query,
  // headers; no body yet), which the server runs before it reads the body, so a request that
  // will be refused costs no body memory. Handlers keep their own checks; a gate only refuses
  // earlier. A gate covers the paths under its prefix, segment by segment (":name" matches any
  // one segment); every gate whose prefix covers the path must admit it.
  //
  // check(head) returns any Result<T>: an error refuses the request with error_reply().
  template <class Check>
  Router& admit(std::initializer_list<std::string_view> prefixes, Check check) {
    return admit_by(prefixes, [check = std::move(check)](const Request& head) -> Result<Reply> {
      if (auto r = check(head); !r) return r.error();
      return Reply{204, nullptr};
    });
  }
  // For an API that dresses its refusals itself (headers): gate(head) answers like a handler;
  // a 2xx answer admits the request, any other answer (or error) is sent as the refusal.
  Router& admit_by(std::initializer_list<std::string_view> prefixes, Handler gate);
  // The refusal of the first gate the head does not pass; nothing when it may go on.
  std::optional<Reply> admission(const Request& head) const;

  // Finishing touches on every answer to a path under a prefix (segment by segment, as gates):
  // the handlers' answers and those the router or the server makes itself (404, 405, a bad
  // path, an oversized body), e.g. headers an API promises on every answer. `dress` may see an
  // answer its API already dressed, and must then leave it as it is.
  using Dresser = std::function<void(const Request& head, Reply& reply)>;
  Router& dress(std::initializer_list<std::string_view> prefixes, Dresser dresser);
  void finish(const Request& head, Reply& reply) const;

 private:
  struct Gate {
    std::vector<std::string> prefix;
    Handler check;
  };
  std::vector<Gate> gates_;
  struct Dressing {
    std::vector<std::string> prefix;
    Dresser dress;
  };
  std::vector<Dressing> dressings_;

  struct Route {
    Method method;
    std::vector<std::string> segments;
    AsyncHandler handler;
    std::string api;
    std::string pattern;
  };
  std::vector<Route> routes_;
  std::string api_ = "default";
  std::vector<OutcomeObserver> observers_;
  std::string default_principal_ = "anonymous";
  // The route a path and method fall to for the metrics: the method's, else any with the
  // path; nullptr when none matches.
  const Route* route_for(const Request& request) const;
  void report(const Route* route, const Request& request, const Reply& reply,
              std::chrono::steady_clock::time_point started) const;
};

// Splits "/a/b%20c?x=1" into the path as sent ("/a/b%20c", see Request::path) and the decoded
// query; INVALID_PATH or INVALID_QUERY on bad percent-encoding.
Result<void> split_target(std::string_view target, std::string& path,
                          std::map<std::string, std::string>& query);

}  // namespace wiretag::http
