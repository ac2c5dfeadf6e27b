// The server's requests to this cell (api/internal.yaml): they come as watch lines
//   {"kind":"cell_request","id","op","body":{…},"deadline_ms"}
// among the change lines of the streamed watch; the watch thread only queues them. Worker
// threads run the op's handler and POST the answer to /internal/v1/cells/<cell>/replies/<id>
// ({"result":{…}} or {"error":{"error_code","message"}}) on their own connections, with the
// cell's credential. An op nobody registered is answered CELL_OP_UNSUPPORTED. Ops name
// themselves; this file knows none of them (cell_ops.h registers the agent's).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/server_pool.h"
#include "http/client.h"
#include "wiretag/result.h"

namespace wiretag::agent {

struct CellRequestOptions {
  http::BaseUrl server;
  std::string token;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string cell;
  std::shared_ptr<ServerPool> servers;  // set: answers go to the server held (failover)
  size_t workers = 2;      // requests run at once
  size_t max_queued = 64;  // more waiting are dropped (the server answers at its deadline)
};

class CellRequests {
 public:
  using Handler = std::function<Result<nlohmann::json>(const nlohmann::json& body)>;

  explicit CellRequests(CellRequestOptions options);
  ~CellRequests();
  CellRequests(const CellRequests&) = delete;
  CellRequests& operator=(const CellRequests&) = delete;

  // Before start(): the handler of `op`. It runs on a worker thread, never on the watch's.
  void add(std::string op, Handler handler);
  void start();
  void stop();

  // A watch line: true when it is a cell request (then it is queued, or dropped when the
  // queue is full: the server answers CELL_UNREACHABLE at its deadline), false otherwise.
  bool take(const nlohmann::json& line);

  // What the cell answers to a request line now: {"result":…} or {"error":{…}}.
  nlohmann::json answer(const nlohmann::json& request) const;

  uint64_t answered() const { return answered_; }

 private:
  struct Job {
    nlohmann::json request;
    std::chrono::steady_clock::time_point deadline;
  };
  void work(PooledClient& client);
  void post_answer(PooledClient& client, const std::string& id, const nlohmann::json& answer);

  CellRequestOptions options_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<PooledClient>> clients_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> answered_{0};
};

}  // namespace wiretag::agent
