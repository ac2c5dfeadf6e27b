// Several servers on one PostgreSQL database: every commit that appends to the change log
// sends NOTIFY wiretag_changes with its revision (PgStore's committer, in the transaction, so
// it is delivered once the commit is). Each PgStore LISTENs on its own connection and hands
// every revision it hears to its commit observers, as for its own commits: the watches and the
// in-memory index of every server follow every server's writes within milliseconds.
// When the connection breaks it reconnects (backing off up to 2 s) and then reports the
// revision the database has reached, so nothing said meanwhile is missed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace wiretag {

class PgChangeListener {
 public:
  using OnRevision = std::function<void(int64_t revision)>;
  PgChangeListener(std::string url, OnRevision on_revision);
  ~PgChangeListener();  // stops and joins its thread
  PgChangeListener(const PgChangeListener&) = delete;
  PgChangeListener& operator=(const PgChangeListener&) = delete;

  // The channel PgStore notifies on.
  static constexpr const char* kChannel = "wiretag_changes";

 private:
  void run();
  std::string url_;
  OnRevision on_revision_;
  int stop_fd_ = -1;  // eventfd: written to stop the thread
  std::thread thread_;
};

}  // namespace wiretag
