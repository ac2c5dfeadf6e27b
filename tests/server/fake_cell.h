// A cell played by a test: a cell token's PDP_STATUS, then a streamed watch naming the cell,
// whose request lines the test reads and answers by hand (so it can also answer wrongly, late
// or never). Used by the cell request and services API tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "server_process.h"

namespace wiretag::test {

// A cell played by the test: PDP_STATUS once, then a streamed watch naming the cell, whose
// lines it keeps (change lines and request lines apart).
class FakeCell {
 public:
  FakeCell(unsigned short port, std::string token, std::string name,
           std::vector<std::string> hosted = {}, bool name_in_watch = true)
      : port_(port),
        token_(std::move(token)),
        name_(std::move(name)),
        client_(http::BaseUrl{"127.0.0.1", std::to_string(port)}, token_) {
    nlohmann::json status = {
        {"messageName", "PDP_STATUS"},   {"name", name_},       {"pdpType", "tc"},
        {"pdpGroup", "defaultGroup"},    {"state", "ACTIVE"},   {"healthy", "HEALTHY"},
        {"heartbeatIntervalMs", 600000}, {"hostedApps", hosted}};
    status_ = http_request(port_, "POST", "/internal/v1/cells/" + name_ + "/status", status.dump(),
                           token_);
    std::string target = "/internal/v1/watch?since=0&timeout=300&stream=1";
    if (name_in_watch) target += "&cell=" + name_;
    thread_ = std::thread([this, target] {
      auto r = client_.stream(
          target,
          [this](std::string_view line) {
            nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
            std::lock_guard lock(mu_);
            if (j.is_object() && j.value("kind", "") == "cell_request")
              requests_.push_back(j);
            else
              changes_.push_back(j);
            cv_.notify_all();
            return true;
          },
          std::chrono::seconds(600));
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~FakeCell() {
    client_.cancel();
    thread_.join();
  }

  const HttpResult& status() const { return status_; }
  // The n-th request line (0-based) once it came; null after 30 s or when the stream ended.
  nlohmann::json request(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return requests_.size() > n || ended_; });
    return requests_.size() > n ? requests_[n] : nlohmann::json();
  }
  // Until at least n change lines came.
  bool changes(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return changes_.size() >= n || ended_;
    }) && changes_.size() >= n;
  }
  nlohmann::json change(size_t n) {
    std::lock_guard lock(mu_);
    return n < changes_.size() ? changes_[n] : nlohmann::json();
  }
  size_t request_count() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  HttpResult reply(const std::string& id, const nlohmann::json& answer,
                   const std::string& as = "") {
    return http_request(port_, "POST",
                        "/internal/v1/cells/" + (as.empty() ? name_ : as) + "/replies/" + id,
                        answer.dump(), token_);
  }

 private:
  unsigned short port_;
  std::string token_;
  std::string name_;
  http::Client client_;
  HttpResult status_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> requests_, changes_;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace wiretag::test
