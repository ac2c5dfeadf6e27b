// The policy servers an agent may follow (--server, several URLs) and which one it holds.
// When the held server goes (its watch or resync fails), the link moves to the next one in
// the list and resumes its watch from the revision it had applied: a server on the same
// store (the same store_id, the revision still in its change log) carries on without a full
// resync; another store, or a revision it cannot serve, answers resync and the cell resyncs.
// Reconnects wait a bounded exponential backoff with full jitter, so the agents of a lost
// server spread over time instead of arriving at the others together.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// Bounded exponential backoff with full jitter: the n-th consecutive failure (n = 0, 1, …)
// waits uniform in [0, min(max, min·2^n)].
class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);
  std::chrono::milliseconds next();
  // The cap the next wait is drawn under.
  std::chrono::milliseconds cap() const;
  void reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds min_, max_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

// --server values: each may hold several URLs separated by commas; at least one, each
// http(s)://HOST:PORT, no duplicates. INVALID_URL otherwise.
Result<std::vector<http::BaseUrl>> parse_server_list(const std::vector<std::string>& values);
// "http://HOST:PORT", as logs and metrics name a server.
std::string server_name(const http::BaseUrl& url);

class ServerPool {
 public:
  // Starts on servers[0]; `seed` makes the jitter reproducible in tests.
  ServerPool(std::vector<http::BaseUrl> servers, std::chrono::milliseconds backoff_min,
             std::chrono::milliseconds backoff_max, uint64_t seed = std::random_device{}());
  // A pool of one server (no failover), with the agent's default backoff unless given.
  static std::shared_ptr<ServerPool> single(
      http::BaseUrl server, std::chrono::milliseconds backoff_min = std::chrono::milliseconds(100),
      std::chrono::milliseconds backoff_max = std::chrono::milliseconds(30000));

  struct Held {
    size_t index = 0;
    uint64_t generation = 0;  // bumped at every move
    http::BaseUrl url;
  };
  Held held() const;
  size_t size() const { return servers_.size(); }
  const std::vector<http::BaseUrl>& servers() const { return servers_; }

  // The held server failed (as seen at `generation`): with several servers, moves to the next
  // (once per generation, however many threads saw the failure). Returns how long to wait
  // before the next attempt.
  std::chrono::milliseconds failed(uint64_t generation, std::string_view why);
  // The held server answered (the cell at `revision`): the backoff starts again from its
  // minimum; the first answer of each server held is logged.
  void answered(int64_t revision);
  // Moves made since start (wiretag_server_failovers_total).
  uint64_t moves() const { return moves_; }

 private:
  const std::vector<http::BaseUrl> servers_;
  mutable std::mutex mu_;
  size_t index_ = 0;
  uint64_t generation_ = 0;
  uint64_t logged_generation_ = ~uint64_t{0};
  Backoff backoff_;
  std::atomic<uint64_t> moves_{0};
};

// An http::Client that follows the pool: before each use it points at the held server. get()
// is for the one thread that sends on it; cancel() may come from any thread.
class PooledClient {
 public:
  PooledClient(std::shared_ptr<ServerPool> pool, std::string bearer,
               std::shared_ptr<boost::asio::ssl::context> tls);
  // The client for the held server, and the generation it was made for.
  http::Client& get(uint64_t* generation = nullptr);
  void cancel();

 private:
  std::shared_ptr<ServerPool> pool_;
  std::string bearer_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::mutex mu_;  // client_ and cancelled_, against cancel()
  std::unique_ptr<http::Client> client_;
  uint64_t generation_ = 0;
  bool cancelled_ = false;
};

}  // namespace wiretag::agent
