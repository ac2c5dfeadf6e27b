// What the benches that load the real server over HTTP share: a process's CPU from
// /proc/PID/stat, pre-formatted HTTP/1.1 requests, and a keep-alive load of many connections
// on one io_context (latency per request, server and client CPU over the measured window).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace wiretag::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Seconds of CPU (user + system) the process has used, from /proc/PID/stat.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

inline double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- HTTP/1.1 client: requests pre-formatted, responses parsed just enough --------------

inline std::string request_text(const std::string& method, const std::string& target,
                                const std::string& token, const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || method == "POST")
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

// One request on a fresh blocking connection; status 0 when there is no answer.
inline Parsed http_once(unsigned short port, const std::string& request, std::string& storage) {
  storage.clear();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Parsed out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      storage.append(chunk, static_cast<size_t>(n));
      out = parse_response(storage);
      if (out.size) break;
    }
  }
  ::close(fd);
  return out;
}

// What one load phase sends: the next request for a connection, or nothing to stop early.
using NextRequest = std::function<std::optional<std::string>(std::mt19937_64&)>;

struct PhaseResult {
  double seconds = 0;  // measured window
  uint64_t completed = 0;
  std::map<int, uint64_t> statuses;
  std::vector<double> latency_us;         // of the requests completed in the window
  double server_cpu = 0, client_cpu = 0;  // CPU-seconds in the window
  std::string sample_error;
};

class Load {
 public:
  Load(unsigned short port, NextRequest next) : port_(port), next_(std::move(next)) {}

  // Runs `connections` connections; measures [warmup, warmup + duration) or, when
  // duration is 0, until next() has nothing more.
  PhaseResult run(int connections, int threads, double warmup, double duration, pid_t server) {
    asio::io_context ioc;
    std::vector<std::shared_ptr<Conn>> conns;
    if (warmup == 0) {  // count from the first request
      window_start_ = Clock::now();
      measuring_ = true;
    }
    open_ = connections;
    // Seeds differ from run to run: a POST phase on a reused data dir must write new edges.
    std::random_device seeds;
    for (int i = 0; i < connections; ++i) {
      conns.push_back(std::make_shared<Conn>(ioc, *this, (uint64_t{seeds()} << 32) | seeds()));
      conns.back()->start(port_);
    }
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    PhaseResult out;
    double server0 = process_cpu_seconds(server), client0 = self_cpu_seconds();
    auto t0 = Clock::now();
    window_start_ = t0;
    measuring_ = true;
    if (duration > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(duration));
      stop_ = true;
    } else {
      while (open_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    out.seconds = seconds_since(t0);
    out.server_cpu = process_cpu_seconds(server) - server0;
    out.client_cpu = self_cpu_seconds() - client0;
    stop_ = true;
    for (auto& t : pool) t.join();
    for (auto& c : conns) {
      out.completed += c->completed;
      for (auto& [s, n] : c->statuses) out.statuses[s] += n;
      out.latency_us.insert(out.latency_us.end(), c->latency_us.begin(), c->latency_us.end());
      if (out.sample_error.empty()) out.sample_error = c->sample_error;
    }
    std::sort(out.latency_us.begin(), out.latency_us.end());
    return out;
  }

 private:
  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(asio::io_context& ioc, Load& load, uint64_t seed)
        : socket_(ioc), load_(load), rng_(seed) {}

    void start(unsigned short port) {
      socket_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                            [self = shared_from_this()](boost::system::error_code ec) {
                              if (ec) die("connect: " + ec.message());
                              self->socket_.set_option(tcp::no_delay(true));
                              self->send();
                            });
    }

    uint64_t completed = 0;
    std::map<int, uint64_t> statuses;
    std::vector<double> latency_us;
    std::string sample_error;

   private:
    void send() {
      if (load_.stop_) return close();
      auto next = load_.next_(rng_);
      if (!next) return close();
      request_ = std::move(*next);
      sent_ = Clock::now();
      asio::async_write(socket_, asio::buffer(request_),
                        [self = shared_from_this()](boost::system::error_code ec, size_t) {
                          if (ec) die("write: " + ec.message());
                          self->read();
                        });
    }

    void read() {
      socket_.async_read_some(asio::buffer(chunk_),
                              [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                                if (ec) die("read: " + ec.message() + " (did the server die?)");
                                self->buf_.append(self->chunk_.data(), n);
                                Parsed p = parse_response(self->buf_);
                                if (!p.size) return self->read();
                                self->done(p);
                              });
    }

    void done(const Parsed& p) {
      auto now = Clock::now();
      if (load_.measuring_ && now >= load_.window_start_ && !load_.stop_) {
        ++completed;
        ++statuses[p.status];
        latency_us.push_back(std::chrono::duration<double, std::micro>(now - sent_).count());
        if (p.status >= 300 && sample_error.empty()) sample_error = std::string(p.body);
      }
      buf_.erase(0, p.size);
      send();
    }

    void close() {
      --load_.open_;
      boost::system::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }

    tcp::socket socket_;
    Load& load_;
    std::mt19937_64 rng_;
    std::string request_;
    std::string buf_;
    std::array<char, 16384> chunk_;
    Clock::time_point sent_;
  };

  unsigned short port_;
  NextRequest next_;
  std::atomic<bool> stop_{false}, measuring_{false};
  std::atomic<int> open_{0};
  Clock::time_point window_start_;
};

inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace wiretag::bench
