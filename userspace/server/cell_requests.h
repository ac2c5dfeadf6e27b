// Requests from the server to one cell, answered by the cell's agent (trace, and later the
// services API's live reads and actions). They ride the cell's own streamed watch, so a cell
// behind NAT answers too: the server puts a line
//   {"kind":"cell_request","id":"<32 hex>","op":"<op>","body":{…},"deadline_ms":N}
// on the newest stream the cell opened with cell=NAME, and the agent POSTs the answer to
// /internal/v1/cells/:name/replies/:id, authenticated as that cell. Domain-neutral: ops and
// bodies are the callers'. Nothing here blocks a thread: an answer, the deadline or the
// server's close calls the requester back once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cell_registry.h"
#include "http/line_stream.h"
#include "http/router.h"
#include "server/auth.h"
#include "wiretag/result.h"

namespace wiretag {

struct CellRequestLimits {
  std::chrono::milliseconds deadline{5000};  // unanswered by then: CELL_UNREACHABLE
  size_t max_pending_per_cell = 16;          // more waiting for one cell: SERVER_BUSY
  size_t max_pending = 1024;                 // more waiting in all: SERVER_BUSY
};

class CellRequests : public std::enable_shared_from_this<CellRequests> {
 public:
  using Done = std::function<void(Result<nlohmann::json>)>;

  // The registry tells an unknown cell (CELL_NOT_FOUND) from one that is away.
  CellRequests(boost::asio::io_context& ioc, CellRegistry& cells, CellRequestLimits limits = {});

  // A streamed watch the cell opened naming itself: the newest one still open carries the
  // cell's requests. Streams that ended are forgotten on the way.
  void attach(const std::string& cell, std::shared_ptr<http::LineStream> lines);

  // Sends `op` with `body` (an object) to the cell; done() is called once with the cell's
  // result or an error: the cell's own, CELL_NOT_FOUND (never reported, no watch),
  // CELL_UNREACHABLE (no open watch that takes requests, or no answer within the deadline),
  // SERVER_BUSY (too many pending). May call done() before it returns.
  void submit(const std::string& cell, const std::string& op, nlohmann::json body, Done done);

  // The cell's answer to request `id`: REQUEST_NOT_FOUND for an id that was not sent to this
  // cell, was answered already or expired.
  Result<void> reply(const std::string& cell, const std::string& id, Result<nlohmann::json> answer);

  // Answers every pending request CELL_UNREACHABLE and refuses new ones (server stopping).
  void close();

  size_t pending() const;
  // Whether the cell has an open watch that takes requests.
  bool reachable(const std::string& cell) const;
  const CellRequestLimits& limits() const { return limits_; }

 private:
  struct Pending {
    std::string cell;
    Done done;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  // The deadline of request `id` passed.
  void expire(const std::string& id);
  // Pushes the line on the cell's newest open stream; false when none takes it.
  bool send_locked(const std::string& cell, const std::shared_ptr<const std::string>& line);

  boost::asio::io_context& ioc_;
  CellRegistry& cells_;
  const CellRequestLimits limits_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::weak_ptr<http::LineStream>>> streams_;  // oldest first
  std::map<std::string, Pending> pending_;                                       // by id
  std::map<std::string, size_t> pending_per_cell_;
  bool closed_ = false;
};

// The cell a watch request names (cell=NAME): "" when it names none; INVALID_CELL_NAME, or
// CELL_MISMATCH when the credential may not act as that cell.
Result<std::string> watch_cell(const Principal& who, const http::Request& req);

// A cell's error as the server passes it on to its caller: the cell's own code, unless that
// code would speak of the caller's credential or request method (then CELL_ERROR, 502).
Error cell_error_for_caller(const std::string& cell, Error e);

// POST /internal/v1/cells/:name/replies/:id {"result":{…}} | {"error":{"error_code","message"}}:
// a cell answers a request (api/internal.yaml).
void add_cell_reply_route(http::Router& router, std::shared_ptr<CellRequests> requests,
                          Authenticator& auth);

}  // namespace wiretag
