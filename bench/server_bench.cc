// wiretag-bench-server: the policy server under load (issue 3). Fills a data dir with
// --apps apps and --rules rules through the domain API, starts the real wiretag-server on
// 127.0.0.1 port 0 as a child, and measures with --connections keep-alive connections:
// GET /app/:guid/whitelist and POST /whitelist (durable) req/s and latency, then RSS after
// a sweep over every app, then restart time. Every figure is printed beside its target.
// Then the watch fan-out: --watchers clients following the change log with the long poll,
// then with the stream (stream=1), through --watch-commits commits: commit → seen latency
// and server CPU per change, both modes side by side (--watch-only runs just that).
// A benchmark, not a test: not in ctest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "core/policy_graph.h"
#include "http/client.h"
#include "http_load.h"
#include "store/sqlite_store.h"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using wiretag::Result;
using wiretag::bench::http_once;
using wiretag::bench::Load;
using wiretag::bench::machine_line;
using wiretag::bench::NextRequest;
using wiretag::bench::parse_response;
using wiretag::bench::Parsed;
using wiretag::bench::percentile;
using wiretag::bench::PhaseResult;
using wiretag::bench::process_cpu_seconds;
using wiretag::bench::request_text;
using wiretag::bench::seconds_since;
using wiretag::bench::self_cpu_seconds;
using wiretag::bench::status_kb;

constexpr double kTargetGetRps = 30000;
constexpr double kTargetPostRps = 3000;
constexpr double kTargetRssMiB = 1024;
constexpr double kTargetRestartS = 5;

struct Config {
  std::string server_bin = WIRETAG_SERVER_BIN;
  std::string data_dir;  // empty: a temp dir, removed at the end
  int connections = 64;
  double duration = 10;  // seconds measured per load phase
  double warmup = 2;     // seconds of load before each measured phase
  int apps = 65535;
  int64_t rules = 1000000;
  int batch = 50000;  // domain operations per SQLite transaction when populating
  int client_threads = 1;
  unsigned server_threads = 0;  // 0: the server's default
  int restarts = 3;
  int watchers = 100;
  int watch_commits = 1000;
  bool watch_only = false;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "wiretag-bench-server: %s\n", what.c_str());
  std::exit(1);
}

// A guid shaped like the seed's (a UUID), the same for the same index in every run.
std::string app_guid(int i) {
  char out[40];
  uint32_t h = static_cast<uint32_t>(i) * 2654435761u;
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-8%03x-%012x", h, (h >> 8) & 0xffff,
                (h >> 4) & 0xfff, (h >> 16) & 0xfff, i);
  return out;
}

// ---- populating the data dir through the domain ----------------------------------------

// Runs every domain transaction inside one outer transaction of the real store, so the
// server's own domain code (tag allocation, edge checks, change log) fills the data dir with
// one commit per --batch operations instead of one fsync per operation.
class BatchedStore : public wiretag::Store {
 public:
  explicit BatchedStore(wiretag::StoreTx& tx) : tx_(tx) {}
  Result<void> transact(bool, const std::function<Result<void>(wiretag::StoreTx&)>& fn) override {
    return fn(tx_);
  }

 private:
  wiretag::StoreTx& tx_;
};

struct Populated {
  bool reused = false;
  double seconds = 0;
  int64_t duplicates = 0;
};

// Every batch is one SQLite transaction holding up to `batch` domain operations.
void in_batches(wiretag::SqliteStore& store, int64_t total, int batch,
                const std::function<Result<bool>(wiretag::PolicyGraph&)>& one) {
  int64_t done = 0;
  while (done < total) {
    auto r = store.write<void>([&](wiretag::StoreTx& tx) -> Result<void> {
      BatchedStore inner(tx);
      WT_TRY(graph, wiretag::PolicyGraph::open(inner, {}));
      for (int i = 0; i < batch && done < total; ++i) {
        WT_TRY(counted, one(*graph));
        if (*counted) ++done;
      }
      return wiretag::Ok();
    });
    if (!r) die("populate: " + r.error().code + ": " + r.error().message);
  }
}

Populated populate(const Config& cfg) {
  const fs::path marker = fs::path(cfg.data_dir) / "bench-populated";
  // The layout version first: a data dir filled by another version of this code is refused.
  const std::string want = "v2 " + std::to_string(cfg.apps) + " " + std::to_string(cfg.rules);
  {
    std::ifstream in(marker);
    std::string have;
    if (in && std::getline(in, have) && have == want) return Populated{true, 0, 0};
  }
  if (fs::exists(fs::path(cfg.data_dir) / "wiretag.db"))
    die(cfg.data_dir + " holds another data set; remove it or pick another --data-dir");
  auto store = wiretag::SqliteStore::open(cfg.data_dir);
  if (!store) die("store: " + store.error().message);
  const auto t0 = Clock::now();
  int next_app = 0;
  in_batches(**store, cfg.apps, cfg.batch, [&](wiretag::PolicyGraph& g) -> Result<bool> {
    WT_TRY(reg, g.register_app(wiretag::kDefaultAccount, app_guid(next_app++)));
    return reg->created;
  });
  // Each app gets rules/apps inbound rules from random sources: 1 in 8 any protocol on all
  // ports, the rest tcp or udp on one port. Destinations go in guid order, so the edge
  // index grows at its end instead of at random places.
  std::vector<std::string> by_guid;
  for (int i = 0; i < cfg.apps; ++i) by_guid.push_back(app_guid(i));
  std::sort(by_guid.begin(), by_guid.end());
  std::mt19937_64 rng(42);
  int64_t k = 0, duplicates = 0;
  in_batches(**store, cfg.rules, cfg.batch, [&](wiretag::PolicyGraph& g) -> Result<bool> {
    wiretag::EdgeRequest e;
    e.destination =
        by_guid[static_cast<size_t>(std::min<int64_t>(k++ * cfg.apps / cfg.rules, cfg.apps - 1))];
    e.source = app_guid(static_cast<int>(rng() % cfg.apps));
    if (rng() % 8 != 0) {
      e.protocol = rng() % 2 ? wiretag::Protocol::Tcp : wiretag::Protocol::Udp;
      uint16_t port = static_cast<uint16_t>(1 + rng() % 65535);
      e.ports = wiretag::PortRange{port, port};
    }
    WT_TRY(created, g.allow(e));
    if (!*created) ++duplicates;
    return *created;
  });
  Populated out{false, seconds_since(t0), duplicates};
  std::ofstream(marker) << want << "\n";
  return out;
}

// ---- the server as a child process ---------------------------------------------------

class ServerChild {
 public:
  explicit ServerChild(const Config& cfg) : cfg_(cfg) {}
  ~ServerChild() { kill_hard(); }

  // Starts on `port` (0: the OS chooses, read from the "listening on" line).
  void start(unsigned short port) {
    log_ = (fs::path(cfg_.data_dir) / "server.log").string();
    std::vector<std::string> args = {cfg_.server_bin, "--listen",
                                     "127.0.0.1:" + std::to_string(port), "--data-dir",
                                     cfg_.data_dir};
    if (cfg_.server_threads) {
      args.push_back("--threads");
      args.push_back(std::to_string(cfg_.server_threads));
    }
    ::unlink(log_.c_str());  // a previous server's "listening on" line must not be read
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
    if (port) {
      port_ = port;
      return;
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
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (port_ == 0) die("wiretag-server did not start within 30 s; see " + log_);
  }

  // SIGTERM and wait for the exit; the exit status.
  int terminate() {
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

 private:
  const Config& cfg_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::string log_;
};

std::string statuses_text(const std::map<int, uint64_t>& s) {
  std::string out;
  for (auto [code, n] : s)
    out += (out.empty() ? "" : ", ") + std::to_string(code) + ": " + std::to_string(n);
  return out;
}

const char* verdict(bool met) { return met ? "met" : "NOT MET"; }

void print_phase(const char* name, const PhaseResult& r, double target_rps, int ncpu) {
  const double rps = static_cast<double>(r.completed) / r.seconds;
  std::printf(
      "%-28s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  max %7.2f ms"
      "   target >= %.0f/s: %s\n",
      name, rps, percentile(r.latency_us, 50) / 1e3, percentile(r.latency_us, 99) / 1e3,
      percentile(r.latency_us, 99.9) / 1e3, r.latency_us.empty() ? 0.0 : r.latency_us.back() / 1e3,
      target_rps, verdict(rps >= target_rps));
  std::printf(
      "%-28s %llu requests in %.1f s; statuses {%s}; CPU: server %.2f cores, "
      "load generator %.2f cores (of %d)\n",
      "", static_cast<unsigned long long>(r.completed), r.seconds,
      statuses_text(r.statuses).c_str(), r.server_cpu / r.seconds, r.client_cpu / r.seconds, ncpu);
  // What the server would do with every core to itself, if CPU were its only limit.
  const double cpu_us = r.completed ? r.server_cpu / static_cast<double>(r.completed) * 1e6 : 0;
  std::printf(
      "%-28s server CPU per request %.0f us: CPU alone caps it at %.0f req/s on %d "
      "cores\n",
      "", cpu_us, cpu_us > 0 ? ncpu * 1e6 / cpu_us : 0.0, ncpu);
  if (!r.sample_error.empty())
    std::printf("%-28s first error body: %s\n", "", r.sample_error.c_str());
}

// Polls until GET target answers 200; seconds from `from`.
double until_ok(unsigned short port, const std::string& request, Clock::time_point from) {
  std::string storage;
  for (;;) {
    if (http_once(port, request, storage).status == 200) return seconds_since(from);
    if (seconds_since(from) > 120) die("server did not answer within 120 s");
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

uintmax_t dir_bytes(const fs::path& dir) {
  uintmax_t total = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

// ---- watch fan-out: long poll against stream --------------------------------------------

enum class WatchMode { LongPoll, Stream };

const char* mode_name(WatchMode m) { return m == WatchMode::LongPoll ? "long poll" : "stream"; }

// `n` clients following the change log from `since`, each on its own thread and keep-alive
// connection (http::Client, as an agent would): when each has the event of each commit.
class Watchers {
 public:
  Watchers(unsigned short port, const std::string& token, int n, int64_t since, int commits,
           WatchMode mode)
      : n_(n), since_(since), commits_(commits), seen_count_(static_cast<size_t>(commits)) {
    seen_.assign(static_cast<size_t>(n), std::vector<Clock::time_point>(commits));
    for (int w = 0; w < n; ++w)
      clients_.push_back(std::make_unique<wiretag::http::Client>(
          wiretag::http::BaseUrl{"127.0.0.1", std::to_string(port)}, token));
    for (int w = 0; w < n; ++w)
      threads_.emplace_back(
          [this, w, mode] { mode == WatchMode::LongPoll ? long_poll(w) : stream(w); });
  }
  ~Watchers() { stop(); }

  // Until every watcher has the event of commit i; false after 30 s.
  bool wait_all(int i) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30),
                        [&] { return seen_count_[static_cast<size_t>(i)] >= n_; });
  }
  void stop() {
    for (auto& c : clients_) c->cancel();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // After stop(): when watcher w had commit i.
  Clock::time_point seen(int w, int i) const {
    return seen_[static_cast<size_t>(w)][static_cast<size_t>(i)];
  }
  uint64_t requests() const { return requests_; }
  uint64_t errors() const { return errors_; }

 private:
  // The events of one reply, all received at `at`; returns the next since.
  int64_t record(int w, std::string_view body, Clock::time_point at) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("revision")) {
      ++errors_;
      return -1;
    }
    for (const auto& e : j["events"]) {
      const int64_t i = e["revision"].get<int64_t>() - since_ - 1;
      if (i < 0 || i >= commits_) continue;
      auto& slot = seen_[static_cast<size_t>(w)][static_cast<size_t>(i)];
      if (slot != Clock::time_point{}) continue;
      slot = at;
      std::lock_guard lock(mu_);
      if (++seen_count_[static_cast<size_t>(i)] == n_) cv_.notify_all();
    }
    return j["revision"].get<int64_t>();
  }

  void long_poll(int w) {
    int64_t since = since_;
    for (;;) {
      auto r = clients_[w]->request(
          "GET", "/internal/v1/watch?since=" + std::to_string(since) + "&timeout=30", {},
          std::chrono::seconds(60));
      const auto at = Clock::now();
      if (!r && r.error().code == "CANCELLED") return;
      ++requests_;
      if (!r || r->status != 200) {
        ++errors_;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (int64_t next = record(w, r->body, at); next >= 0) since = next;
    }
  }

  void stream(int w) {
    int64_t since = since_;
    for (;;) {
      ++requests_;
      auto r = clients_[w]->stream(
          "/internal/v1/watch?stream=1&timeout=30&since=" + std::to_string(since),
          [&](std::string_view line) {
            if (int64_t next = record(w, line, Clock::now()); next >= 0) since = next;
            return true;
          },
          std::chrono::seconds(60));
      if (!r && r.error().code == "CANCELLED") return;
      ++errors_;  // a stream is meant to last: any end is counted, then it reconnects
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  const int n_;
  const int64_t since_;
  const int commits_;
  std::vector<std::unique_ptr<wiretag::http::Client>> clients_;
  std::vector<std::thread> threads_;
  std::vector<std::vector<Clock::time_point>> seen_;  // [watcher][commit], by its thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> seen_count_;  // per commit, under mu_
  std::atomic<uint64_t> requests_{0}, errors_{0};
};

struct FanoutResult {
  int watchers = 0;
  int commits = 0;
  double seconds = 0;
  double server_cpu = 0;           // CPU-seconds from the first commit to the last seen
  double client_cpu = 0;           // of this process (writer and watchers), the same window
  std::vector<double> latency_us;  // per (commit, watcher): commit 2xx → it has the event
  uint64_t before_ack = 0;         // of those, seen before the committer read the 2xx
  uint64_t requests = 0, errors = 0;
};

int64_t current_revision(wiretag::http::Client& client) {
  auto r = client.request("GET", "/internal/v1/status");
  if (!r || r->status != 200) die("GET /internal/v1/status failed");
  return r->json().value()["revision"].get<int64_t>();
}

// `commits` POST /whitelist, one at a time: each a new tcp edge, and the next only once every
// watcher has the last one, so each change is measured alone (the long poll's worst case: N
// requests per change; a burst would let it batch).
FanoutResult run_fanout(const Config& cfg, unsigned short port, pid_t server,
                        const std::string& token, const std::vector<std::string>& guids,
                        int watchers, std::optional<WatchMode> mode, uint32_t& next_port) {
  wiretag::http::Client writer({"127.0.0.1", std::to_string(port)}, token);
  const int64_t since = current_revision(writer);
  std::optional<Watchers> w;
  if (mode) {
    w.emplace(port, token, watchers, since, cfg.watch_commits, *mode);
    // Every watcher parked (a long poll waiting, or a stream past its first line).
    for (int i = 0;; ++i) {
      auto r = writer.request("GET", "/internal/v1/status");
      if (r && r->status == 200 && r->json().value()["watches"].get<int>() >= watchers) break;
      if (i > 30000) die("watchers did not park within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  FanoutResult out;
  out.watchers = mode ? watchers : 0;
  out.commits = cfg.watch_commits;
  std::vector<Clock::time_point> acked(static_cast<size_t>(cfg.watch_commits));
  const double cpu0 = process_cpu_seconds(server), self0 = self_cpu_seconds();
  const auto t0 = Clock::now();
  for (int i = 0; i < cfg.watch_commits; ++i) {
    for (;;) {
      const uint32_t p = next_port++;
      const std::string& src = guids[p % guids.size()];
      const std::string& dst = guids[(p / guids.size() + 1 + p) % guids.size()];
      std::string body = R"({"source":")" + src + R"(","destination":")" + dst +
                         R"(","protocol":"tcp","ports":{"start":)" + std::to_string(1 + p % 65535) +
                         "}}";
      auto r = writer.request("POST", "/whitelist", body);
      if (!r) die("POST /whitelist: " + r.error().message);
      if (r->status == 201) break;
      if (r->status != 200) die("POST /whitelist: " + std::to_string(r->status) + " " + r->body);
      // 200: that edge existed already (no change, no event): another one.
    }
    acked[static_cast<size_t>(i)] = Clock::now();
    if (w && !w->wait_all(i)) die("a watcher missed commit " + std::to_string(i));
  }
  out.seconds = seconds_since(t0);
  out.server_cpu = process_cpu_seconds(server) - cpu0;
  out.client_cpu = self_cpu_seconds() - self0;
  if (w) {
    w->stop();
    for (int c = 0; c < cfg.watch_commits; ++c)
      for (int k = 0; k < watchers; ++k) {
        double us =
            std::chrono::duration<double, std::micro>(w->seen(k, c) - acked[static_cast<size_t>(c)])
                .count();
        if (us < 0) ++out.before_ack;
        out.latency_us.push_back(std::max(0.0, us));
      }
    std::sort(out.latency_us.begin(), out.latency_us.end());
    out.requests = w->requests();
    out.errors = w->errors();
  }
  return out;
}

void watch_fanout(const Config& cfg, unsigned short port, pid_t server, const std::string& token,
                  const std::vector<std::string>& guids) {
  std::printf(
      "== Watch fan-out: %d watchers (one thread and keep-alive connection each, "
      "http::Client), %d commits\n   (POST /whitelist, one at a time; the next once every "
      "watcher has the last). Latency: commit 2xx\n   → a watcher has the event, over every "
      "(commit, watcher); server CPU from /proc/%d/stat\n",
      cfg.watchers, cfg.watch_commits, server);
  std::random_device seed;
  uint32_t next_port = seed();
  // Warm-up, not printed: the first commits after a start cost more (caches, allocations).
  Config warmup = cfg;
  warmup.watch_commits = std::min(cfg.watch_commits, 200);
  run_fanout(warmup, port, server, token, guids, 0, std::nullopt, next_port);
  FanoutResult alone = run_fanout(cfg, port, server, token, guids, 0, std::nullopt, next_port);
  FanoutResult poll =
      run_fanout(cfg, port, server, token, guids, cfg.watchers, WatchMode::LongPoll, next_port);
  FanoutResult stream =
      run_fanout(cfg, port, server, token, guids, cfg.watchers, WatchMode::Stream, next_port);
  const double base_us = alone.server_cpu / alone.commits * 1e6;
  const double base_client_us = alone.client_cpu / alone.commits * 1e6;
  std::printf("%-12s %8s %8s %8s %7s %14s %14s %14s %13s %8s\n", "mode", "p50 ms", "p99 ms",
              "max ms", "<2xx %", "server CPU/chg", "minus commit", "clients CPU/chg",
              "requests/chg", "wall s");
  std::printf("%-12s %8s %8s %8s %7s %11.0f us %14s %12.0f us %13s %8.2f\n", "no watchers", "-",
              "-", "-", "-", base_us, "-", base_client_us, "-", alone.seconds);
  for (const auto* r : {&poll, &stream}) {
    const double cpu_us = r->server_cpu / r->commits * 1e6;
    std::printf("%-12s %8.2f %8.2f %8.2f %7.1f %11.0f us %11.0f us %12.0f us %13.2f %8.2f\n",
                mode_name(r == &poll ? WatchMode::LongPoll : WatchMode::Stream),
                percentile(r->latency_us, 50) / 1e3, percentile(r->latency_us, 99) / 1e3,
                r->latency_us.empty() ? 0.0 : r->latency_us.back() / 1e3,
                100.0 * static_cast<double>(r->before_ack) /
                    static_cast<double>(std::max<size_t>(1, r->latency_us.size())),
                cpu_us, cpu_us - base_us, r->client_cpu / r->commits * 1e6,
                static_cast<double>(r->requests) / r->commits, r->seconds);
    if (r->errors)
      std::printf("%-12s %llu failed or ended watch requests/streams\n", "",
                  static_cast<unsigned long long>(r->errors));
  }
  std::printf(
      "(<2xx: events a watcher had before the committer read its 2xx, counted as 0 ms; "
      "minus commit: server CPU/chg\n minus the no-watchers row; clients CPU/chg: this "
      "process, committer and watchers; requests/chg: watch\n requests or streams opened "
      "per change)\n\n");
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App cli{
      "wiretag-bench-server: GET /app/:guid/whitelist and POST /whitelist throughput and "
      "latency of the real wiretag-server over keep-alive connections, its RSS and its "
      "restart time with a large policy graph; figures beside the targets of issue 3."};
  cli.add_option("--server", cfg.server_bin, "the wiretag-server binary")->capture_default_str();
  cli.add_option("--data-dir", cfg.data_dir,
                 "data dir to fill and keep (reused by later runs with the same --apps and "
                 "--rules); default: a temp dir removed at the end");
  cli.add_option("--connections", cfg.connections, "concurrent keep-alive connections")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cli.add_option("--duration", cfg.duration, "seconds measured per load phase")
      ->check(CLI::Range(0.5, 3600.0))
      ->capture_default_str();
  cli.add_option("--warmup", cfg.warmup, "seconds of load before each measured phase")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cli.add_option("--apps", cfg.apps, "apps (tag length 2 holds at most 65535)")
      ->check(CLI::Range(2, 65535))
      ->capture_default_str();
  cli.add_option("--rules", cfg.rules, "rules (default-whitelist edges)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  cli.add_option("--batch", cfg.batch, "domain operations per SQLite transaction when filling")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cli.add_option("--client-threads", cfg.client_threads, "load generator threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cli.add_option("--server-threads", cfg.server_threads,
                 "wiretag-server --threads (0: its default, the number of cores)")
      ->capture_default_str();
  cli.add_option("--restarts", cfg.restarts, "SIGTERM + exec cycles timed")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cli.add_option("--watchers", cfg.watchers, "watch fan-out: clients following the change log")
      ->check(CLI::Range(1, 2000))
      ->capture_default_str();
  cli.add_option("--watch-commits", cfg.watch_commits, "watch fan-out: commits per mode")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cli.add_flag("--watch-only", cfg.watch_only,
               "only the watch fan-out (long poll against stream), after the data set");
  CLI11_PARSE(cli, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when redirected to a file

  const int ncpu = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  const bool temp_dir = cfg.data_dir.empty();
  if (temp_dir)
    cfg.data_dir =
        (fs::temp_directory_path() / ("wiretag-bench-server-" + std::to_string(::getpid())))
            .string();
  fs::create_directories(cfg.data_dir);
  std::printf("machine: %s\n", machine_line().c_str());
  std::printf(
      "server: %s, data dir %s, %d connections, %.0f s measured per phase after %.0f s "
      "warm-up, %d load generator thread(s)\n\n",
      cfg.server_bin.c_str(), cfg.data_dir.c_str(), cfg.connections, cfg.duration, cfg.warmup,
      cfg.client_threads);

  // 1. The data set.
  Populated pop = populate(cfg);
  if (pop.reused) {
    std::printf("== Data set: %d apps, %lld rules: reused from %s\n\n", cfg.apps,
                static_cast<long long>(cfg.rules), cfg.data_dir.c_str());
  } else {
    std::printf(
        "== Data set: %d apps, %lld rules in %.1f s (%.0f rules/s; %lld duplicate draws "
        "skipped)\n   filled through the domain API (PolicyGraph::register_app / allow, the "
        "server's own code and\n   change log), %d operations per SQLite transaction, not "
        "over HTTP: over HTTP every write is\n   its own fsync'd commit (see the POST rate "
        "below)\n\n",
        cfg.apps, static_cast<long long>(cfg.rules), pop.seconds,
        static_cast<double>(cfg.rules) / pop.seconds, static_cast<long long>(pop.duplicates),
        cfg.batch);
  }
  std::printf("data dir size: %.1f MiB\n\n",
              static_cast<double>(dir_bytes(cfg.data_dir)) / (1 << 20));

  // 2. The server.
  ServerChild server(cfg);
  auto started = Clock::now();
  server.start(0);
  std::string token;
  std::getline(std::ifstream(fs::path(cfg.data_dir) / "admin-token"), token);
  if (token.empty()) die("no admin token in the data dir");
  const unsigned short port = server.port();
  const std::string health = request_text("GET", "/healthz", token);
  const double first_start = until_ok(port, health, started);
  std::printf(
      "server pid %d on 127.0.0.1:%u; first start to /healthz %.3f s; RSS at start %ld "
      "kB\n\n",
      server.pid(), port, first_start, status_kb(server.pid(), "VmRSS"));

  std::vector<std::string> guids(cfg.apps);
  std::vector<std::string> get_requests(cfg.apps);
  for (int i = 0; i < cfg.apps; ++i) {
    guids[i] = app_guid(i);
    get_requests[i] = request_text("GET", "/app/" + guids[i] + "/whitelist", token);
  }
  {
    std::string storage;
    Parsed p = http_once(port, get_requests[0], storage);
    std::printf("sample: GET /app/%s/whitelist -> %d, %zu bytes: %.120s...\n\n", guids[0].c_str(),
                p.status, p.body.size(), std::string(p.body).c_str());
    if (p.status != 200) die("the sample request failed");
  }
  auto finish = [&] {
    const int code = server.terminate();
    if (temp_dir) {
      std::error_code ec;
      fs::remove_all(cfg.data_dir, ec);
    }
    return code == 0 ? 0 : 1;
  };
  if (cfg.watch_only) {
    watch_fanout(cfg, port, server.pid(), token, guids);
    return finish();
  }

  // 3. GET /app/:guid/whitelist of random apps.
  std::printf("== Load: %d keep-alive connections\n", cfg.connections);
  PhaseResult get =
      Load(port, [&](std::mt19937_64& rng) -> std::optional<std::string> {
        return get_requests[rng() % get_requests.size()];
      }).run(cfg.connections, cfg.client_threads, cfg.warmup, cfg.duration, server.pid());
  print_phase("GET /app/:guid/whitelist", get, kTargetGetRps, ncpu);

  // 4. POST /whitelist: new tcp edges between random apps, each a durable commit.
  PhaseResult post =
      Load(port, [&](std::mt19937_64& rng) -> std::optional<std::string> {
        const std::string& src = guids[rng() % guids.size()];
        const std::string& dst = guids[rng() % guids.size()];
        unsigned p = 1 + rng() % 65535;
        std::string body = R"({"source":")" + src + R"(","destination":")" + dst +
                           R"(","protocol":"tcp","ports":{"start":)" + std::to_string(p) +
                           R"(,"end":)" + std::to_string(p) + "}}";
        return request_text("POST", "/whitelist", token, body);
      }).run(cfg.connections, cfg.client_threads, cfg.warmup, cfg.duration, server.pid());
  print_phase("POST /whitelist (durable)", post, kTargetPostRps, ncpu);
  std::printf("\n");

  // 5. Memory after a sweep that reads every app's whitelist once.
  std::atomic<int> cursor{0};
  PhaseResult sweep = Load(port, [&](std::mt19937_64&) -> std::optional<std::string> {
                        int i = cursor++;
                        if (i >= cfg.apps) return std::nullopt;
                        return get_requests[i];
                      }).run(cfg.connections, cfg.client_threads, 0, 0, server.pid());
  const long rss = status_kb(server.pid(), "VmRSS"), hwm = status_kb(server.pid(), "VmHWM");
  std::printf(
      "== Memory with %d apps and %lld+ rules, after GET, POST and a sweep reading every "
      "app's whitelist (%llu requests, %.1f s)\n",
      cfg.apps, static_cast<long long>(cfg.rules), static_cast<unsigned long long>(sweep.completed),
      sweep.seconds);
  std::printf("VmRSS %.1f MiB, VmHWM %.1f MiB   target <= %.0f MiB: %s\n\n", rss / 1024.0,
              hwm / 1024.0, kTargetRssMiB, verdict(hwm / 1024.0 <= kTargetRssMiB));

  // 6. Restart: SIGTERM, exec on the same port, until /healthz and a whitelist GET answer.
  std::printf(
      "== Restart (SIGTERM, wait for exit, exec on the same port) with the data set "
      "above\n");
  std::printf("%-8s %10s %14s %16s %10s\n", "run", "stop s", "exec→healthz s", "exec→whitelist s",
              "total s");
  std::mt19937_64 rng(7);
  double worst = 0;
  auto restart = [&](const std::string& name, bool hard) {
    auto t0 = Clock::now();
    if (hard)
      server.kill_hard();
    else if (int code = server.terminate(); code != 0)
      std::printf("  (server exited with status %d)\n", code);
    double stop = seconds_since(t0);
    auto t1 = Clock::now();
    server.start(port);
    double h = until_ok(port, health, t1);
    double w = until_ok(port, get_requests[rng() % get_requests.size()], t1);
    double total = seconds_since(t0);
    std::printf("%-8s %10.3f %14.3f %16.3f %10.3f\n", name.c_str(), stop, h, w, total);
    if (!hard) worst = std::max(worst, total);
  };
  for (int i = 0; i < cfg.restarts; ++i) restart("term " + std::to_string(i + 1), false);
  restart("kill -9", true);
  std::printf("slowest SIGTERM restart %.3f s   target <= %.0f s: %s\n\n", worst, kTargetRestartS,
              verdict(worst <= kTargetRestartS));

  // 7. Following the change log: long poll against stream.
  watch_fanout(cfg, port, server.pid(), token, guids);
  return finish();
}
