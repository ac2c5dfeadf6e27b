// READY=1 for systemd (Type=notify, common/sd_notify.h) once the agent does its job: after
// the first full resync since start, so a unit ordered after wiretag-agent.service starts
// with the server's rules in force, not only what the pins held.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace wiretag::agent {

class ReadyNotice {
 public:
  // `ready` is polled every `period` on `ioc`'s threads; `waiting` and `done` are the unit's
  // STATUS= lines before and after.
  ReadyNotice(boost::asio::io_context& ioc, std::function<bool()> ready, std::string waiting,
              std::string done, std::chrono::milliseconds period = std::chrono::milliseconds(50));

  // Does nothing when the agent was not started by systemd ($NOTIFY_SOCKET unset).
  void start();
  void cancel() { timer_.cancel(); }

 private:
  void poll();

  boost::asio::steady_timer timer_;
  std::function<bool()> ready_;
  std::string waiting_, done_;
  std::chrono::milliseconds period_;
};

}  // namespace wiretag::agent
