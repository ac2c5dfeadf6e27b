// The one place where a domain Error becomes an HTTP status and the SPEC §4 error body.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::http {

class LineStream;

// What a route handler answers when it succeeds.
struct Reply {
  Reply() = default;
  Reply(unsigned status, nlohmann::json body) : status(status), body(std::move(body)) {}

  unsigned status = 200;
  nlohmann::json body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
  // The body already serialized (then `body` is ignored): one answer sent to many clients
  // (the watch) is serialized once.
  std::shared_ptr<const std::string> serialized;
  // A body streamed as lines while they come (chunked; then `body` is ignored): the route
  // keeps the other end and pushes to it (the streamed watch).
  std::shared_ptr<LineStream> lines;
};

// The HTTP status for an error_code: *_NOT_FOUND → 404, conflicts → 409, input → 400, ...
unsigned status_for(const Error& error);

// `[{"error_code":"…","message":"…"}]` with the status status_for() gives.
Reply error_reply(const Error& error);

}  // namespace wiretag::http
