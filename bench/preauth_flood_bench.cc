// wiretag-bench-preauth-flood: what unauthenticated bodies cost the policy server (issue 14,
// item 2). Starts the real wiretag-server on 127.0.0.1 port 0 with a temp data dir, measures
// the latency of an authenticated GET /app/:guid/whitelist on the idle server, then opens
// --connections connections that each send the head of a POST with a --body-bytes
// Content-Length and no Authorization and then stream that body over --body-seconds, and
// measures the same request again meanwhile. The server's RSS (VmRSS of /proc/PID/status)
// is sampled throughout: idle, peak under the flood, and after the flood's connections close.
// Both latencies and the RSS figures are printed side by side in one run.
// Bounded: only 127.0.0.1, at most --connections sockets, every phase with a deadline.
// A benchmark, not a test: not in ctest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using wiretag::bench::machine_line;
using wiretag::bench::parse_response;
using wiretag::bench::Parsed;
using wiretag::bench::seconds_since;
using wiretag::bench::status_kb;
using namespace std::chrono_literals;

struct Config {
  std::string server_bin = WIRETAG_SERVER_BIN;
  std::vector<std::string> server_args;  // passed on to wiretag-server (caps, threads)
  int connections = 2000;
  size_t body_bytes = size_t{1} << 20;
  double body_seconds = 10;   // each flood body is spread over this long; 0: as fast as it goes
  double hold_seconds = 30;   // after its body, a flood connection waits this long at most for
                              // the server's answer, then closes
  int requests = 2000;        // measured requests on the idle server, per kind
  double settle_seconds = 5;  // RSS is sampled until this long after the flood closes
  double flood_seconds = 20;  // a flood connection the server ended is opened again until then
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "wiretag-bench-preauth-flood: %s\n", what.c_str());
  std::exit(1);
}

// Enough descriptors for the flood, the measuring sockets and the server (which inherits
// the limit): the soft limit up to the hard one, the hard one too when allowed (root).
rlim_t raise_nofile(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= want) return rl.rlim_cur;
  rlimit raised{want, std::max(want, rl.rlim_max)};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = {rl.rlim_max, rl.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

// ---- the server as a child process ---------------------------------------------------

class ServerChild {
 public:
  ServerChild(const Config& cfg, fs::path data_dir) : cfg_(cfg), data_dir_(std::move(data_dir)) {}
  ~ServerChild() { kill_hard(); }

  void start() {
    log_ = (data_dir_.parent_path() / "server.log").string();  // the data dir is the server's
    std::vector<std::string> args = {cfg_.server_bin, "--listen", "127.0.0.1:0", "--data-dir",
                                     data_dir_.string()};
    args.insert(args.end(), cfg_.server_args.begin(), cfg_.server_args.end());
    pid_ = ::fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the bench
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 30000 && port_ == 0; ++i) {
      std::ifstream in(log_);
      for (std::string line; std::getline(in, line);) {
        constexpr std::string_view kPrefix = "listening on 127.0.0.1:";
        if (line.rfind(kPrefix, 0) == 0)
          port_ = static_cast<unsigned short>(std::stoi(line.substr(kPrefix.size())));
      }
      int status;
      if (port_ == 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        die("wiretag-server exited at start; see " + log_);
      }
      std::this_thread::sleep_for(1ms);
    }
    if (port_ == 0) die("wiretag-server did not start within 30 s; see " + log_);
  }

  bool alive() const {
    int status;
    return pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }
  const std::string& log() const { return log_; }

 private:
  const Config& cfg_;
  fs::path data_dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::string log_;
};

// ---- the measured client: blocking sockets, responses parsed just enough ----------------

int connect_loopback(unsigned short port, bool blocking) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (blocking) {
    timeval tv{10, 0};  // a measured request that takes longer counts as failed
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      (blocking || errno != EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string request_text(const std::string& method, const std::string& target,
                         const std::string& token, const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || method == "POST")
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

// One request on `fd` (a fresh connection when fd is -1, then kept in fd); status 0 and fd
// closed when there is no answer.
Parsed exchange(unsigned short port, int& fd, const std::string& request, std::string& storage) {
  storage.clear();
  if (fd < 0) fd = connect_loopback(port, true);
  if (fd < 0) return {};
  Parsed out;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      storage.append(chunk, static_cast<size_t>(n));
      out = parse_response(storage);
      if (out.size) return out;
    }
  }
  ::close(fd);
  fd = -1;
  return {};
}

// Latencies of one kind of request, in ms.
struct Latencies {
  std::vector<double> ms;
  uint64_t failed = 0;  // no answer, or not 200

  double percentile(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    size_t i =
        std::min(s.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(s.size())));
    return s[i];
  }
};

// Sequential requests, alternately on one keep-alive connection and on a fresh connection
// each, until `count` of each were sent or `until()` says stop.
struct Measured {
  Latencies keep_alive, fresh;
};

template <class Stop>
Measured measure(unsigned short port, const std::string& request, int count, Stop until) {
  Measured m;
  int kept = -1;
  std::string storage;
  for (int i = 0; i < count && !until(); ++i) {
    for (bool fresh : {false, true}) {
      int fd = fresh ? -1 : kept;
      auto t0 = Clock::now();
      Parsed p = exchange(port, fd, request, storage);
      double ms = seconds_since(t0) * 1e3;
      Latencies& l = fresh ? m.fresh : m.keep_alive;
      if (p.status == 200)
        l.ms.push_back(ms);
      else
        ++l.failed;
      if (fresh) {
        if (fd >= 0) ::close(fd);
      } else {
        kept = fd;
      }
    }
  }
  if (kept >= 0) ::close(kept);
  return m;
}

// ---- the flood: unauthenticated POSTs with large bodies, one epoll thread -------------

struct FloodResult {
  int opened = 0;          // sockets whose connect did not fail at once
  int connect_failed = 0;  // refused, reset or failed before the head was sent
  int heads_sent = 0;
  int bodies_sent = 0;          // the whole body written
  int answered = 0;             // a response status line arrived
  int answered_early = 0;       // ... before the whole body was written
  int closed_by_server = 0;     // EOF or reset from the server
  int unanswered = 0;           // body sent, no answer within hold_seconds
  int reopened = 0;             // connections opened again after the server ended them
  std::map<int, int> statuses;  // status → connections
  uint64_t body_bytes_sent = 0;
  double seconds = 0;
  bool timed_out = false;
};

class Flood {
 public:
  Flood(const Config& cfg, unsigned short port) : cfg_(cfg), port_(port) {
    head_ =
        "POST /app HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(cfg.body_bytes) + "\r\n\r\n";
    chunk_.assign(64 * 1024, ' ');
  }

  // Runs until every connection is done (body sent and held, or closed) or the deadline.
  FloodResult run(std::atomic<bool>& active) {
    FloodResult r;
    const auto start = Clock::now();
    const double deadline = cfg_.flood_seconds + cfg_.body_seconds + cfg_.hold_seconds + 60;
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1 failed");
    conns_.resize(cfg_.connections);
    auto open = [&](size_t i, double t) {
      Conn& c = conns_[i];
      c = Conn{};
      c.started_at = t;
      c.fd = connect_loopback(port_, false);
      if (c.fd < 0) {
        c.done = true;
        ++r.connect_failed;
        return;
      }
      ++r.opened;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u32 = static_cast<uint32_t>(i);
      ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    };
    for (size_t i = 0; i < conns_.size(); ++i) open(i, 0);
    const auto flood_start = Clock::now();
    std::vector<epoll_event> events(1024);
    char sink[16384];
    for (;;) {
      int live = 0;
      const double t = seconds_since(flood_start);
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        if (c.done && t < cfg_.flood_seconds) {
          // A persistent attacker: the server ended this one, so try again.
          tally(c, r);
          open(i, t);
          ++r.reopened;
        }
        if (c.done) continue;
        ++live;
        pump(c, t);
        if (c.body_complete && (c.answered || t - c.body_done_at >= cfg_.hold_seconds)) {
          r.unanswered += !c.answered;
          close_conn(c);
        }
      }
      if (live == 0) break;
      if (seconds_since(start) > deadline) {
        r.timed_out = true;
        break;
      }
      int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 5);
      for (int k = 0; k < n; ++k) {
        Conn& c = conns_[events[k].data.u32];
        if (c.done) continue;
        for (;;) {
          ssize_t got = ::read(c.fd, sink, sizeof sink);
          if (got > 0) {
            if (!c.answered) {
              c.first_bytes.append(sink, static_cast<size_t>(std::min<ssize_t>(got, 64)));
              if (c.first_bytes.size() >= 12) {
                c.answered = true;
                ++r.answered;
                ++r.statuses[std::atoi(c.first_bytes.substr(9, 3).c_str())];
                if (!c.body_complete) ++r.answered_early;
              }
            }
            continue;
          }
          if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            if (!c.head_complete) ++r.connect_failed;
            ++r.closed_by_server;
            close_conn(c);
          }
          break;
        }
      }
    }
    for (Conn& c : conns_) close_conn(c);
    ::close(ep);
    active = false;
    for (const Conn& c : conns_) tally(c, r);
    r.seconds = seconds_since(flood_start);
    return r;
  }

 private:
  static constexpr size_t kMinWrite = 16 * 1024;

  struct Conn {
    int fd = -1;
    double started_at = 0;  // flood seconds when it was opened
    size_t head_sent = 0, body_sent = 0;
    bool head_complete = false, body_complete = false, answered = false, done = false;
    double body_done_at = 0;  // flood seconds when the body was complete
    std::string first_bytes;
  };

  static void tally(const Conn& c, FloodResult& r) {
    r.heads_sent += c.head_complete;
    r.bodies_sent += c.body_complete;
    r.body_bytes_sent += c.body_sent;
  }

  // Writes what the schedule allows by flood time t: the head at once, then the body
  // linearly over body_seconds, in writes of at least kMinWrite (fewer syscalls).
  void pump(Conn& c, double now) {
    const double t = now - c.started_at;
    while (!c.head_complete) {
      ssize_t n =
          ::send(c.fd, head_.data() + c.head_sent, head_.size() - c.head_sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // not connected yet, or full; a reset shows up as a read error
      c.head_sent += static_cast<size_t>(n);
      c.head_complete = c.head_sent == head_.size();
    }
    if (c.body_complete) return;
    size_t due =
        cfg_.body_seconds <= 0
            ? cfg_.body_bytes
            : std::min(cfg_.body_bytes, static_cast<size_t>(static_cast<double>(cfg_.body_bytes) *
                                                            t / cfg_.body_seconds));
    if (due < cfg_.body_bytes && due - std::min(due, c.body_sent) < kMinWrite) return;
    while (c.body_sent < due) {
      size_t want = std::min(due - c.body_sent, chunk_.size());
      ssize_t n = ::send(c.fd, chunk_.data(), want, MSG_NOSIGNAL);
      if (n <= 0) return;
      c.body_sent += static_cast<size_t>(n);
    }
    if (c.body_sent == cfg_.body_bytes) {
      c.body_complete = true;
      c.body_done_at = now;
    }
  }

  void close_conn(Conn& c) {
    if (c.done) return;
    c.done = true;
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }

  const Config& cfg_;
  unsigned short port_;
  std::string head_, chunk_;
  std::vector<Conn> conns_;
};

// ---- RSS sampling ----------------------------------------------------------------------

class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { loop(); }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  long peak_kb() const { return peak_; }

 private:
  void loop() {
    while (!stop_) {
      long kb = status_kb(pid_, "VmRSS");
      if (kb > peak_) peak_ = kb;
      std::this_thread::sleep_for(20ms);
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

std::string mib(long kb) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(kb) / 1024.0);
  return out;
}

void print_row(const char* what, const Latencies& idle, const Latencies& flood) {
  std::printf("%-34s %10zu %10zu\n", (std::string(what) + " requests ok").c_str(), idle.ms.size(),
              flood.ms.size());
  std::printf("%-34s %10llu %10llu\n", (std::string(what) + " failed").c_str(),
              static_cast<unsigned long long>(idle.failed),
              static_cast<unsigned long long>(flood.failed));
  for (double p : {50.0, 99.0, 100.0}) {
    char label[64];
    std::snprintf(label, sizeof label, "%s %s ms", what,
                  p == 100.0  ? "max"
                  : p == 50.0 ? "p50"
                              : "p99");
    std::printf("%-34s %10.3f %10.3f\n", label, idle.percentile(p), flood.percentile(p));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App cli{
      "wiretag-bench-preauth-flood: the p99 of an authenticated GET /app/:guid/whitelist on "
      "the idle server and while --connections unauthenticated connections each stream a "
      "--body-bytes POST body, with the server's RSS, in one run (issue 14)."};
  cli.add_option("--server", cfg.server_bin, "the wiretag-server binary")->capture_default_str();
  cli.add_option("--server-arg", cfg.server_args,
                 "an argument passed on to wiretag-server (repeat), e.g. --server-arg=--threads "
                 "--server-arg=4");
  cli.add_option("--connections", cfg.connections, "unauthenticated flood connections")
      ->check(CLI::Range(1, 20000))
      ->capture_default_str();
  cli.add_option("--body-bytes", cfg.body_bytes, "Content-Length of each flood POST")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cli.add_option("--body-seconds", cfg.body_seconds,
                 "each flood body is streamed over this long (0: as fast as it goes)")
      ->check(CLI::Range(0.0, 300.0))
      ->capture_default_str();
  cli.add_option("--hold-seconds", cfg.hold_seconds,
                 "after its body, a flood connection waits this long at most for the answer")
      ->check(CLI::Range(0.0, 300.0))
      ->capture_default_str();
  cli.add_option("--requests", cfg.requests,
                 "measured requests per kind (keep-alive, fresh connection) on the idle server")
      ->check(CLI::Range(10, 1000000))
      ->capture_default_str();
  cli.add_option("--flood-seconds", cfg.flood_seconds,
                 "for this long a flood connection the server answered or closed is opened again "
                 "(a persistent attacker keeps --connections trying)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cli.add_option("--settle-seconds", cfg.settle_seconds,
                 "RSS is sampled until this long after the flood's connections close")
      ->check(CLI::Range(0.0, 300.0))
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ::signal(SIGPIPE, SIG_IGN);

  const rlim_t nofile = raise_nofile(static_cast<rlim_t>(cfg.connections) + 512);
  if (nofile < static_cast<rlim_t>(cfg.connections) + 64)
    die("RLIMIT_NOFILE is " + std::to_string(nofile) + ": too low for " +
        std::to_string(cfg.connections) + " connections (run as root or lower --connections)");

  const fs::path data_dir =
      fs::temp_directory_path() / ("wiretag-bench-preauth-" + std::to_string(::getpid()));
  fs::create_directories(data_dir);
  std::printf("machine: %s\n", machine_line().c_str());
  ServerChild server(cfg, data_dir / "data");
  server.start();
  std::string token;
  for (int i = 0; i < 3000 && token.empty(); ++i) {
    std::getline(std::ifstream(data_dir / "data" / "admin-token"), token);
    if (token.empty()) std::this_thread::sleep_for(1ms);
  }
  if (token.empty()) die("no admin token in the data dir");
  const unsigned short port = server.port();
  std::string server_args;
  for (const auto& a : cfg.server_args) server_args += " " + a;
  std::printf(
      "server: %s%s, pid %d on 127.0.0.1:%u, RLIMIT_NOFILE %llu (bench and server)\n"
      "flood: %d connections, POST /app without Authorization, Content-Length %zu, body "
      "streamed over %.1f s, then up to %.1f s for the answer\n\n",
      cfg.server_bin.c_str(), server_args.c_str(), server.pid(), port,
      static_cast<unsigned long long>(nofile), cfg.connections, cfg.body_bytes, cfg.body_seconds,
      cfg.hold_seconds);

  // An app with an inbound edge: the measured request answers a real whitelist.
  int setup_fd = -1;
  std::string storage;
  for (const char* body : {R"({"guid":"bench-db"})", R"({"guid":"bench-web"})"})
    if (exchange(port, setup_fd, request_text("POST", "/app", token, body), storage).status != 201)
      die("POST /app failed: " + storage);
  if (exchange(port, setup_fd,
               request_text("POST", "/whitelist", token,
                            R"({"source":"bench-web","destination":"bench-db"})"),
               storage)
          .status != 201)
    die("POST /whitelist failed: " + storage);
  if (setup_fd >= 0) ::close(setup_fd);
  const std::string get = request_text("GET", "/app/bench-db/whitelist", token);

  // 1. Idle.
  measure(port, get, 100, [] { return false; });  // warm-up
  const long rss_idle = status_kb(server.pid(), "VmRSS");
  Measured idle = measure(port, get, cfg.requests, [] { return false; });

  // 2. The flood, with the same requests meanwhile (until the flood ends).
  std::atomic<bool> active{true};
  FloodResult flood;
  Measured loaded;
  long peak = 0;
  {
    RssSampler sampler(server.pid());
    std::thread flooder([&] { flood = Flood(cfg, port).run(active); });
    std::this_thread::sleep_for(200ms);  // the connections open and send their heads
    loaded = measure(port, get, 1 << 30, [&] { return !active.load(); });
    flooder.join();
    peak = sampler.peak_kb();
  }
  const long hwm = status_kb(server.pid(), "VmHWM");
  // 3. After the flood's connections closed.
  std::vector<std::pair<double, long>> after;
  const auto closed = Clock::now();
  for (double at : {0.1, 1.0, cfg.settle_seconds}) {
    if (at > cfg.settle_seconds) continue;
    std::this_thread::sleep_until(
        closed + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at)));
    after.emplace_back(at, status_kb(server.pid(), "VmRSS"));
  }
  const bool alive = server.alive();
  Measured again = measure(port, get, 100, [] { return false; });

  std::printf("== GET /app/bench-db/whitelist, authenticated       idle      flood\n");
  print_row("keep-alive", idle.keep_alive, loaded.keep_alive);
  print_row("new connection", idle.fresh, loaded.fresh);
  std::printf("\n== The flood (%.1f s%s)\n", flood.seconds, flood.timed_out ? ", TIMED OUT" : "");
  std::printf(
      "connections opened %d (%d of them again after the server ended one), failed to connect "
      "or reset before the head %d, heads sent %d, bodies sent in full %d (%.1f MiB written)\n",
      flood.opened, flood.reopened, flood.connect_failed, flood.heads_sent, flood.bodies_sent,
      static_cast<double>(flood.body_bytes_sent) / (1 << 20));
  std::printf(
      "answered %d (%d before the body was complete), closed by the server %d, no answer "
      "within %.0f s %d; statuses:",
      flood.answered, flood.answered_early, flood.closed_by_server, cfg.hold_seconds,
      flood.unanswered);
  for (const auto& [status, n] : flood.statuses) std::printf(" %d x%d", status, n);
  std::printf("\n\n== Server RSS (VmRSS)\n");
  std::printf("idle %s, peak during the flood %s (VmHWM %s)", mib(rss_idle).c_str(),
              mib(peak).c_str(), mib(hwm).c_str());
  for (const auto& [at, kb] : after) std::printf(", %.1f s after close %s", at, mib(kb).c_str());
  std::printf("\nserver %s after the flood; GET again: %zu ok, %llu failed\n",
              alive ? "alive" : "GONE", again.keep_alive.ms.size() + again.fresh.ms.size(),
              static_cast<unsigned long long>(again.keep_alive.failed + again.fresh.failed));

  const int code = server.terminate();
  std::error_code ec;
  fs::remove_all(data_dir, ec);
  return alive && code == 0 ? 0 : 1;
}
