// The cell's events to the server, which aggregates every cell's (GET /v1/events there): a
// subscriber of the event hub with a bounded queue (4096 lines: while the server is away the
// newest are lost, and reported as lost once it is back), sent in batches of at most 500
// lines, at most one request per interval, only when there are events:
//   POST /internal/v1/cells/<cell>/events {"events":[line, …]}
// with the cell's credential (api/internal.yaml). A batch the server did not take is reported
// as {"type":"lost","cause":"server_unreachable"} in the next one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/server_pool.h"
#include "events/event_fanout.h"
#include "http/client.h"

namespace wiretag::agent {

struct EventForwarderOptions {
  http::BaseUrl server;
  std::string token;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string cell;
  std::shared_ptr<ServerPool> servers;  // set: events go to the server held (failover)
  size_t max_queued = 4096;
  size_t max_batch = 500;
  std::chrono::milliseconds interval{250};
};

class EventForwarder : public events::EventSink {
 public:
  explicit EventForwarder(EventForwarderOptions options);
  ~EventForwarder() override;
  Offer offer(const std::shared_ptr<const std::string>& line) override;
  void start();
  void stop();
  uint64_t sent() const { return sent_; }

 private:
  void run();

  EventForwarderOptions options_;
  PooledClient client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool stopping_ = false;
  uint64_t unsent_ = 0;  // lines of batches the server did not take, not yet reported
  std::thread thread_;
  std::atomic<uint64_t> sent_{0};
};

}  // namespace wiretag::agent
