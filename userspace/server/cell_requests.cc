#include "server/cell_requests.h"

#include "common/log.h"
#include "core/app_guid.h"
#include "http/json_input.h"
#include "server/accounts_api.h"
#include "wiretag/error_kind.h"

namespace wiretag {

namespace asio = boost::asio;
using nlohmann::json;

CellRequests::CellRequests(asio::io_context& ioc, CellRegistry& cells, CellRequestLimits limits)
    : ioc_(ioc), cells_(cells), limits_(limits) {}

void CellRequests::attach(const std::string& cell, std::shared_ptr<http::LineStream> lines) {
  std::lock_guard lock(mu_);
  auto& list = streams_[cell];
  std::erase_if(list, [](const std::weak_ptr<http::LineStream>& w) {
    auto s = w.lock();
    return !s || s->ended();
  });
  list.push_back(std::move(lines));
}

bool CellRequests::send_locked(const std::string& cell,
                               const std::shared_ptr<const std::string>& line) {
  auto it = streams_.find(cell);
  if (it == streams_.end()) return false;
  auto& list = it->second;
  while (!list.empty()) {
    auto s = list.back().lock();
    if (s && s->push(line)) return true;
    list.pop_back();  // ended: an older stream of the cell may still be open
  }
  streams_.erase(it);
  return false;
}

void CellRequests::submit(const std::string& cell, const std::string& op, json body, Done done) {
  auto unreachable = [&cell](const std::string& why) {
    return Error{"CELL_UNREACHABLE", "cell \"" + cell + "\" " + why};
  };
  std::unique_lock lock(mu_);
  if (closed_) {
    lock.unlock();
    return done(unreachable("cannot be asked: the server is stopping"));
  }
  const bool watching = streams_.count(cell) > 0;
  if (!watching && !cells_.find(cell)) {
    lock.unlock();
    return done(Error{"CELL_NOT_FOUND", "no cell \"" + cell + "\" has reported"});
  }
  size_t& for_cell = pending_per_cell_[cell];
  if (for_cell >= limits_.max_pending_per_cell || pending_.size() >= limits_.max_pending) {
    if (for_cell == 0) pending_per_cell_.erase(cell);
    lock.unlock();
    return done(Error{"SERVER_BUSY", "too many requests to cells are waiting for an answer (" +
                                         std::to_string(limits_.max_pending_per_cell) +
                                         " per cell, " + std::to_string(limits_.max_pending) +
                                         " in all): try again"});
  }
  const std::string id = random_uuid();
  auto line = std::make_shared<const std::string>(json{
      {"kind", "cell_request"},
      {"id", id},
      {"op", op},
      {"body", std::move(body)},
      {"deadline_ms", limits_.deadline.count()}}.dump(-1, ' ', false,
                                                      json::error_handler_t::replace));
  if (!send_locked(cell, line)) {
    if (for_cell == 0) pending_per_cell_.erase(cell);
    lock.unlock();
    return done(
        unreachable("has no open watch that takes requests (it is down, restarting, "
                    "or watches without stream=1 and cell=NAME)"));
  }
  ++for_cell;
  auto timer = std::make_shared<asio::steady_timer>(ioc_);
  pending_.emplace(id, Pending{cell, std::move(done), timer});
  timer->expires_after(limits_.deadline);
  timer->async_wait([weak = weak_from_this(), id, timer](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->expire(id);
  });
}

void CellRequests::expire(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (--pending_per_cell_[p.cell] == 0) pending_per_cell_.erase(p.cell);
  lock.unlock();
  p.done(Error{"CELL_UNREACHABLE", "cell \"" + p.cell + "\" did not answer within " +
                                       std::to_string(limits_.deadline.count()) + " ms"});
}

Result<void> CellRequests::reply(const std::string& cell, const std::string& id,
                                 Result<json> answer) {
  std::unique_lock lock(mu_);
  auto it = pending_.find(id);
  // Another cell's request is answered as an unknown one: ids are not shared between cells.
  if (it == pending_.end() || it->second.cell != cell)
    return Error{"REQUEST_NOT_FOUND",
                 "no request \"" + id + "\" waits for an answer from cell \"" + cell + "\""};
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (--pending_per_cell_[cell] == 0) pending_per_cell_.erase(cell);
  p.timer->cancel();  // under mu_, like every other use of the timer
  lock.unlock();
  p.done(std::move(answer));
  return Ok();
}

void CellRequests::close() {
  std::map<std::string, Pending> answered;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    answered.swap(pending_);
    pending_per_cell_.clear();
    for (auto& [id, p] : answered) p.timer->cancel();
  }
  for (auto& [id, p] : answered)
    p.done(Error{"CELL_UNREACHABLE", "the server stopped before cell \"" + p.cell + "\" answered"});
}

size_t CellRequests::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

bool CellRequests::reachable(const std::string& cell) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(cell);
  if (it == streams_.end()) return false;
  for (const auto& w : it->second)
    if (auto s = w.lock(); s && !s->ended()) return true;
  return false;
}

Result<std::string> watch_cell(const Principal& who, const http::Request& req) {
  if (!req.query.count("cell")) return std::string();
  std::string cell = req.query_value("cell");
  if (!is_valid_app_guid(cell))
    return Error{"INVALID_CELL_NAME", "cell must be 1-128 of [A-Za-z0-9._:-]"};
  if (auto r = who.may_act_as_cell(cell); !r) return r.error();
  return cell;
}

namespace {

// {"result":{…}} or {"error":{"error_code","message"}}: the cell's answer.
Result<Result<json>> parse_answer(const std::string& text) {
  WT_TRY(body, http::parse_json_object(text));
  if (auto r = http::check_fields(*body, {}, {"result", "error"}); !r) return r.error();
  if (body->contains("result") == body->contains("error"))
    return Error{"INVALID_BODY", "a reply holds either \"result\" or \"error\""};
  if (body->contains("result")) {
    if (!(*body)["result"].is_object())
      return Error{"INVALID_FIELD_TYPE", "\"result\" must be an object"};
    return Result<json>(std::move((*body)["result"]));
  }
  const json& e = (*body)["error"];
  if (!e.is_object()) return Error{"INVALID_FIELD_TYPE", "\"error\" must be an object"};
  if (auto r = http::check_fields(e, {"error_code", "message"}); !r) return r.error();
  WT_TRY(code, http::string_field(e, "error_code"));
  WT_TRY(message, http::string_field(e, "message"));
  if (code->empty() || code->size() > 64 ||
      code->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
    return Error{"INVALID_ERROR_CODE", "error_code must be 1-64 of [A-Z0-9_]"};
  return Result<json>(Error{*code, *message});
}

}  // namespace

void add_cell_reply_route(http::Router& router, std::shared_ptr<CellRequests> requests,
                          Authenticator& auth) {
  router.post("/internal/v1/cells/:name/replies/:id",
              [requests, &auth](const http::Request& req) -> Result<http::Reply> {
                WT_TRY(who, auth.authenticate_internal(req));
                const std::string cell = req.param("name");
                if (!is_valid_app_guid(cell))
                  return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
                if (auto r = who->may_act_as_cell(cell); !r) return r.error();
                WT_TRY(answer, parse_answer(req.body));
                if (auto r = requests->reply(cell, req.param("id"), std::move(*answer)); !r)
                  return r.error();
                return http::Reply{200, json{{"status", "success"}}};
              });
}

Error cell_error_for_caller(const std::string& cell, Error e) {
  if (is(e, ErrorKind::CellUnavailable) || is(e, ErrorKind::Busy)) return e;
  const unsigned status = http::status_for(e);
  if (status == 401 || status == 403 || status == 405)
    return Error{"CELL_ERROR", "cell \"" + cell + "\" answered " + e.code + ": " + e.message};
  e.message = "cell \"" + cell + "\": " + e.message;
  return e;
}

}  // namespace wiretag
