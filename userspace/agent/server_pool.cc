#include "agent/server_pool.h"

#include <algorithm>

#include "common/log.h"

namespace wiretag::agent {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(std::max(min, std::chrono::milliseconds(1))), max_(std::max(max, min_)), rng_(seed) {}

std::chrono::milliseconds Backoff::cap() const {
  std::chrono::milliseconds cap = min_;
  for (int i = 0; i < failures_ && cap < max_; ++i) cap *= 2;
  return std::min(cap, max_);
}

std::chrono::milliseconds Backoff::next() {
  std::uniform_int_distribution<int64_t> pick(0, cap().count());
  if (cap() < max_) ++failures_;
  return std::chrono::milliseconds(pick(rng_));
}

std::string server_name(const http::BaseUrl& url) {
  return std::string(url.tls ? "https://" : "http://") + url.host + ":" + url.port;
}

Result<std::vector<http::BaseUrl>> parse_server_list(const std::vector<std::string>& values) {
  std::vector<http::BaseUrl> out;
  for (const std::string& value : values) {
    size_t at = 0;
    while (at <= value.size()) {
      size_t comma = value.find(',', at);
      if (comma == std::string::npos) comma = value.size();
      std::string_view one = std::string_view(value).substr(at, comma - at);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      WT_TRY(url, http::parse_base_url(one));
      for (const http::BaseUrl& seen : out)
        if (server_name(seen) == server_name(*url))
          return Error{"INVALID_URL", "server " + server_name(*url) + " is listed twice"};
      out.push_back(std::move(*url));
      at = comma + 1;
    }
  }
  if (out.empty()) return Error{"INVALID_URL", "no server URL"};
  return out;
}

ServerPool::ServerPool(std::vector<http::BaseUrl> servers, std::chrono::milliseconds backoff_min,
                       std::chrono::milliseconds backoff_max, uint64_t seed)
    : servers_(std::move(servers)), backoff_(backoff_min, backoff_max, seed) {}

ServerPool::Held ServerPool::held() const {
  std::lock_guard lock(mu_);
  return Held{index_, generation_, servers_.at(index_)};
}

std::chrono::milliseconds ServerPool::failed(uint64_t generation, std::string_view why) {
  std::lock_guard lock(mu_);
  if (generation == generation_ && servers_.size() > 1) {
    const size_t from = index_;
    index_ = (index_ + 1) % servers_.size();
    ++generation_;
    ++moves_;
    spdlog::warn("server {} failed ({}): moving to server {}", server_name(servers_[from]), why,
                 server_name(servers_[index_]));
  }
  return backoff_.next();
}

std::shared_ptr<ServerPool> ServerPool::single(http::BaseUrl server,
                                               std::chrono::milliseconds backoff_min,
                                               std::chrono::milliseconds backoff_max) {
  return std::make_shared<ServerPool>(std::vector<http::BaseUrl>{std::move(server)}, backoff_min,
                                      backoff_max);
}

void ServerPool::answered(int64_t revision) {
  std::lock_guard lock(mu_);
  backoff_.reset();
  if (logged_generation_ == generation_) return;
  logged_generation_ = generation_;
  spdlog::info("following server {} from revision {}", server_name(servers_[index_]), revision);
}

PooledClient::PooledClient(std::shared_ptr<ServerPool> pool, std::string bearer,
                           std::shared_ptr<boost::asio::ssl::context> tls)
    : pool_(std::move(pool)), bearer_(std::move(bearer)), tls_(std::move(tls)) {}

http::Client& PooledClient::get(uint64_t* generation) {
  ServerPool::Held held = pool_->held();
  std::lock_guard lock(mu_);
  if (!client_ || generation_ != held.generation) {
    client_ = std::make_unique<http::Client>(held.url, bearer_, tls_);
    generation_ = held.generation;
    if (cancelled_) client_->cancel();
  }
  if (generation) *generation = generation_;
  return *client_;
}

void PooledClient::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (client_) client_->cancel();
}

}  // namespace wiretag::agent
