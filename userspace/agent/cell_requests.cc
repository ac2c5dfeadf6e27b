#include "agent/cell_requests.h"

#include <algorithm>

#include "common/log.h"
#include "wiretag/error_kind.h"

namespace wiretag::agent {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json error_answer(const std::string& code, const std::string& message) {
  return json{{"error", {{"error_code", code}, {"message", message}}}};
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("0123456789abcdefABCDEF-") == std::string::npos;
}

}  // namespace

CellRequests::CellRequests(CellRequestOptions options) : options_(std::move(options)) {}

CellRequests::~CellRequests() { stop(); }

void CellRequests::add(std::string op, Handler handler) {
  handlers_[std::move(op)] = std::move(handler);
}

void CellRequests::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  for (size_t i = 0; i < std::max<size_t>(1, options_.workers); ++i) {
    if (!options_.servers) options_.servers = ServerPool::single(options_.server);
    clients_.push_back(
        std::make_unique<PooledClient>(options_.servers, options_.token, options_.tls));
    workers_.emplace_back([this, client = clients_.back().get()] { work(*client); });
  }
}

void CellRequests::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& c : clients_) c->cancel();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  clients_.clear();
}

bool CellRequests::take(const json& line) {
  if (!line.is_object() || line.value("kind", json()) != "cell_request") return false;
  int64_t deadline_ms = 5000;
  if (auto it = line.find("deadline_ms"); it != line.end() && it->is_number_integer())
    deadline_ms = std::clamp<int64_t>(it->get<int64_t>(), 1, 600000);
  std::unique_lock lock(mu_);
  if (stopping_) return true;
  if (queue_.size() >= options_.max_queued) {
    lock.unlock();
    spdlog::warn("cell request {} dropped: {} requests wait already",
                 line.value("id", json()).dump(), options_.max_queued);
    return true;
  }
  queue_.push_back(
      Job{line, std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms)});
  lock.unlock();
  cv_.notify_one();
  return true;
}

json CellRequests::answer(const json& request) const {
  const json op = request.value("op", json());
  if (!op.is_string()) return error_answer("INVALID_REQUEST", "a cell request without an op");
  auto it = handlers_.find(op.get<std::string>());
  if (it == handlers_.end())
    return error_answer("CELL_OP_UNSUPPORTED",
                        "this agent has no op \"" + op.get<std::string>() + "\"");
  const json body = request.value("body", json::object());
  if (!body.is_object()) return error_answer("INVALID_BODY", "a cell request's body is an object");
  try {
    Result<json> r = it->second(body);
    if (!r) return error_answer(r.error().code, r.error().message);
    return json{{"result", r->is_object() ? std::move(*r) : json{{"value", *r}}}};
  } catch (const std::exception& e) {
    return error_answer("INTERNAL_ERROR", std::string("op failed: ") + e.what());
  }
}

void CellRequests::work(PooledClient& client) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const json id = job.request.value("id", json());
    if (!id.is_string() || !valid_id(id.get<std::string>())) {
      spdlog::warn("a cell request without a valid id: ignored");
      continue;
    }
    // The server has answered CELL_UNREACHABLE already: the work would be thrown away.
    if (std::chrono::steady_clock::now() >= job.deadline) {
      spdlog::warn("cell request {} ({}) expired in the queue", id.get<std::string>(),
                   job.request.value("op", json()).dump());
      continue;
    }
    post_answer(client, id.get<std::string>(), answer(job.request));
  }
}

void CellRequests::post_answer(PooledClient& client, const std::string& id, const json& answer) {
  const std::string target = "/internal/v1/cells/" + options_.cell + "/replies/" + id;
  auto res = client.get().request("POST", target,
                                  answer.dump(-1, ' ', false, json::error_handler_t::replace), 10s);
  if (!res) {
    if (!is(res.error(), ErrorKind::Cancelled))
      spdlog::warn("cell request {}: the answer did not reach the server: {}: {}", id,
                   res.error().code, res.error().message);
    return;
  }
  if (res->status != 200) {
    spdlog::warn("cell request {}: the server refused the answer: HTTP {} {}", id, res->status,
                 res->error_code());
    return;
  }
  ++answered_;
}

}  // namespace wiretag::agent
