#include "store/pg_change_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/log.h"

namespace wiretag {

PgChangeListener::PgChangeListener(std::string url, OnRevision on_revision)
    : url_(std::move(url)), on_revision_(std::move(on_revision)) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

PgChangeListener::~PgChangeListener() {
  const uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) < 0) {
  }
  if (thread_.joinable()) thread_.join();
  ::close(stop_fd_);
}

void PgChangeListener::run() {
  int backoff_ms = 50;
  bool reported_down = false;
  // Waits for the connection's socket (or just the timeout, without one); false: stop.
  auto wait = [&](int fd, int timeout_ms) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    return (fds[0].revents & POLLIN) == 0;
  };
  for (;;) {
    PGconn* conn = PQconnectdb(url_.c_str());
    bool listening = PQstatus(conn) == CONNECTION_OK;
    if (listening) {
      PGresult* r = PQexec(conn, (std::string("LISTEN ") + kChannel).c_str());
      listening = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
    }
    if (listening) {
      // Whatever was committed while not listening: the database's revision now.
      PGresult* r = PQexec(conn, "SELECT revision FROM change_sequence WHERE id = 1");
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        on_revision_(std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10));
      PQclear(r);
      if (reported_down)
        log_record(spdlog::level::info, "store", "change listener reconnected",
                   nlohmann::ordered_json::object());
      reported_down = false;
      backoff_ms = 50;
    }
    while (listening) {
      if (!wait(PQsocket(conn), -1)) {
        PQfinish(conn);
        return;
      }
      if (!PQconsumeInput(conn)) break;
      int64_t highest = 0;
      while (PGnotify* n = PQnotifies(conn)) {
        highest = std::max<int64_t>(highest, std::strtoll(n->extra, nullptr, 10));
        PQfreemem(n);
      }
      if (highest > 0) on_revision_(highest);
    }
    if (!reported_down)
      log_record(spdlog::level::warn, "store", "change listener lost its connection",
                 {{"error", std::string(PQerrorMessage(conn))}});
    reported_down = true;
    PQfinish(conn);
    if (!wait(-1, backoff_ms)) return;
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
}

}  // namespace wiretag
