#include "agent/ready_notice.h"

#include <cstdlib>

#include "common/log.h"
#include "common/sd_notify.h"

namespace wiretag::agent {

namespace {

void notify(const std::string& state) {
  if (auto sent = sd_notify(state); !sent)
    spdlog::warn("systemd notification: {}: {}", sent.error().code, sent.error().message);
}

}  // namespace

ReadyNotice::ReadyNotice(boost::asio::io_context& ioc, std::function<bool()> ready,
                         std::string waiting, std::string done, std::chrono::milliseconds period)
    : timer_(ioc),
      ready_(std::move(ready)),
      waiting_(std::move(waiting)),
      done_(std::move(done)),
      period_(period) {}

void ReadyNotice::start() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || socket[0] == '\0') return;
  notify("STATUS=" + waiting_);
  poll();
}

void ReadyNotice::poll() {
  if (ready_()) {
    notify("READY=1\nSTATUS=" + done_);
    return;
  }
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) poll();
  });
}

}  // namespace wiretag::agent
