// Test harness: follows a streamed NDJSON answer (GET /v1/events of an agent's unix socket,
// or of a server or agent over TCP) on a thread of its own and keeps every line it reads.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace wiretag::test {

class EventReader {
 public:
  // Over the agent's Plugin API unix socket.
  EventReader(std::filesystem::path socket, std::string target);
  // Over TCP to 127.0.0.1:port, with this bearer token ("" = none).
  EventReader(unsigned short port, std::string target, std::string bearer);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // Waits for the first line (the stream's heartbeat): the reader is subscribed. False when
  // the answer was not a stream (then status() and body() say what it was).
  bool wait_started(std::chrono::milliseconds limit = std::chrono::seconds(10));
  unsigned status() const;
  std::string body() const;
  // Lines read so far (heartbeats included), parsed.
  std::vector<nlohmann::json> lines() const;
  // Only the drop and audit events.
  std::vector<nlohmann::json> events() const;
  // The count of every lost line of this cause.
  uint64_t lost(const std::string& cause) const;
  void stop();

 private:
  void add(std::string_view line);
  mutable std::mutex mu_;
  std::vector<nlohmann::json> lines_;
  unsigned status_ = 0;
  std::string body_;
  bool done_ = false;
  std::function<void()> cancel_;
  std::thread thread_;
};

}  // namespace wiretag::test
