// wiretag-bench-events: how many drop events per second the agent's GET /v1/events stream
// sustains (issue 17). In-process, the agent's own pieces: a real datapath (its own pin dir),
// the event hub as the ring buffer's one reader, the namer (a packet to a device without an
// endpoint: reason drop_no_endpoint, no app lookup), the fan-out, and the Plugin API route
// on a real HTTP server on 127.0.0.1; --readers clients follow the stream over TCP. The
// enforce program is run in the kernel (BPF_PROG_TEST_RUN, --batch runs a call) as fast as
// it goes, rate limit off, for --seconds. Prints what each reader received per second, and
// what was lost (a full ring buffer: rate_limit; a reader behind: slow_reader), beside the
// events the program emitted. Needs root. A benchmark, not a test: not in ctest.
#include <bpf/bpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "agent/cell.h"
#include "agent/event_hub.h"
#include "agent/event_naming.h"
#include "agent/tag_directory.h"
#include "datapath/datapath.h"
#include "datapath/packet_builder.h"
#include "http/client.h"
#include "http/server.h"

using namespace wiretag;
using nlohmann::json;

namespace {

struct Reader {
  std::atomic<uint64_t> events{0}, lost{0};
  std::unique_ptr<http::Client> client;
  std::thread thread;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"wiretag-bench-events: events per second through the agent's GET /v1/events"};
  int readers_n = 2;
  double seconds = 5;
  uint32_t batch = 256;
  cli.add_option("--readers", readers_n, "streaming readers")->capture_default_str();
  cli.add_option("--seconds", seconds, "how long the program emits")->capture_default_str();
  cli.add_option("--batch", batch, "program runs per BPF_PROG_TEST_RUN call")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const std::string pin_dir = "/sys/fs/bpf/wiretag-bench-events-" + std::to_string(::getpid());
  const std::filesystem::path state = std::filesystem::temp_directory_path() /
                                      ("wiretag-bench-events-" + std::to_string(::getpid()));
  datapath::Options options;
  options.pin_dir = pin_dir;
  options.events_per_sec = 100000000;  // the limit off: measure the reader, not the budget
  options.max_endpoints = 16;
  options.max_policy_entries = 1024;
  auto dp = datapath::Datapath::open(options);
  if (!dp) {
    std::fprintf(stderr, "datapath: %s: %s (root?)\n", dp.error().code.c_str(),
                 dp.error().message.c_str());
    return 1;
  }
  auto table = agent::DeviceTable::open(state);
  auto tags = TagSpace::make(2);
  if (!table || !tags) return 1;
  agent::Cell cell(**dp, std::move(*table), *tags);
  agent::TagDirectory directory(nullptr);
  agent::EventNamer namer(cell, directory, "bench-cell");
  agent::EventHub hub(**dp, namer, "bench-cell", {std::chrono::milliseconds(10)});
  if (auto r = hub.start(); !r) {
    std::fprintf(stderr, "hub: %s\n", r.error().message.c_str());
    return 1;
  }
  http::Router router;
  agent::add_events_route(router, hub);
  boost::asio::io_context ioc(2);
  http::Server server(ioc, router);
  auto bound = server.listen({boost::asio::ip::make_address("127.0.0.1"), 0});
  if (!bound) return 1;
  server.start();
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });

  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < readers_n; ++i) {
    auto r = std::make_unique<Reader>();
    r->client =
        std::make_unique<http::Client>(http::BaseUrl{"127.0.0.1", std::to_string(bound->port())});
    Reader* rp = r.get();
    r->thread = std::thread([rp] {
      (void)rp->client->stream(
          "/v1/events",
          [rp](std::string_view line) {
            if (line.find("\"type\":\"lost\"") != std::string_view::npos) {
              rp->lost += json::parse(line).value("count", uint64_t{0});
            } else if (line.find("\"type\":\"drop\"") != std::string_view::npos) {
              ++rp->events;
            }
            return true;
          },
          std::chrono::seconds(60));
    });
    readers.push_back(std::move(r));
  }
  while (hub.fanout().readers() < static_cast<size_t>(readers_n) + 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));

  // A TCP packet to a device without an endpoint (the test run's loopback): dropped, emitted.
  auto frame = datapath::PacketBuilder::ipv4("198.18.0.1", "198.18.0.2").tcp(40000, 5432).build();
  uint64_t runs = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = static_cast<int>(batch));
    if (bpf_prog_test_run_opts((*dp)->enforce_prog_fd(), &opts) != 0) {
      std::perror("BPF_PROG_TEST_RUN");
      return 1;
    }
    runs += batch;
  }
  const double emit_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Until every reader has accounted for every run (received or told lost), or 10 s more.
  auto settled = [&] {
    for (auto& r : readers)
      if (r->events + r->lost < runs) return false;
    return true;
  };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!settled() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  utsname u{};
  uname(&u);
  std::printf("wiretag-bench-events: %u CPUs, kernel %s; %d readers over TCP, %.1f s emitting\n",
              std::thread::hardware_concurrency(), u.release, readers_n, emit_s);
  std::printf("program runs (events emitted or counted lost): %llu (%.0f/s)\n",
              static_cast<unsigned long long>(runs), runs / emit_s);
  std::printf("hub: %llu events read from the ring buffer (%.0f/s), %llu counted lost\n",
              static_cast<unsigned long long>(hub.events()), hub.events() / total_s,
              static_cast<unsigned long long>(hub.lost()));
  for (size_t i = 0; i < readers.size(); ++i)
    std::printf("reader %zu: %llu events received (%.0f/s sustained), %llu reported lost%s\n", i,
                static_cast<unsigned long long>(readers[i]->events.load()),
                readers[i]->events / total_s,
                static_cast<unsigned long long>(readers[i]->lost.load()),
                settled() ? "" : " (not settled)");

  for (auto& r : readers) r->client->cancel();
  for (auto& r : readers) r->thread.join();
  hub.stop();
  server.shutdown();
  ioc.stop();
  for (auto& t : io) t.join();
  std::filesystem::remove_all(state);
  std::filesystem::remove_all(pin_dir);
  return 0;
}
