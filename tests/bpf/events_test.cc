// Drop and audit events reach the ring buffer with the packet's fields, rate-limited.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <sched.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
const std::string kLocal6 = "2001:2::2", kRemote6 = "2001:2::1:1";

// As wt_event holds it: 16 bytes, IPv4 in the first 4.
std::vector<uint8_t> addr(int family, const std::string& text) {
  std::vector<uint8_t> a(16, 0);
  EXPECT_EQ(inet_pton(family, text.c_str(), a.data()), 1);
  return a;
}

class Events : public testing::Test {
 protected:
  void open(const datapath::Options& options, uint8_t mode = WT_MODE_ENFORCE) {
    std::string error;
    runner_ = ProgRunner::open(options, &error);
    ASSERT_TRUE(runner_) << error;
    EndpointSetup ep;
    ep.mode = mode;
    ASSERT_EQ(runner_->configure(ep, {{5, Protocol::Tcp, PortRange{8080, 8080}}}), "");
    auto r = runner_->datapath().on_event([this](const wt_event& e) { events_.push_back(e); });
    ASSERT_TRUE(r) << r.error().message;
  }

  void drain() {
    for (;;) {
      auto n = runner_->datapath().poll_events(0);
      ASSERT_TRUE(n) << n.error().message;
      if (*n == 0) return;
    }
  }

  std::unique_ptr<ProgRunner> runner_;
  std::vector<wt_event> events_;
};

TEST_F(Events, DropReachesRingBufferWithPacketFields) {
  open(test_options());
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8081).payload(10).build();
  ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 0x10005), TC_ACT_SHOT);
  drain();
  ASSERT_EQ(events_.size(), 1u);
  const wt_event& e = events_[0];
  EXPECT_NE(e.timestamp_ns, 0u);
  EXPECT_EQ(e.ifindex, kTestIfindex);
  EXPECT_EQ(e.src_tag, 5u) << "the tag, without the mark's bits above the tag mask";
  EXPECT_EQ(e.direction, WT_DIR_ENFORCE);
  EXPECT_EQ(reason_text(e.reason), reason_text(WT_REASON_DROP_POLICY));
  EXPECT_EQ(e.verdict, WT_VERDICT_DROP);
  EXPECT_EQ(e.mode, WT_MODE_ENFORCE);
  EXPECT_EQ(e.family, 4);
  EXPECT_EQ(e.proto, IPPROTO_TCP);
  EXPECT_EQ(e.len, frame.size());
  EXPECT_EQ(e.sport, htons(40000));
  EXPECT_EQ(e.dport, htons(8081));
  EXPECT_EQ(std::vector<uint8_t>(e.saddr, e.saddr + 16), addr(AF_INET, kRemote4));
  EXPECT_EQ(std::vector<uint8_t>(e.daddr, e.daddr + 16), addr(AF_INET, kLocal4));
}

TEST_F(Events, Ipv6DropCarriesSixteenByteAddresses) {
  open(test_options());
  auto frame = PacketBuilder::ipv6(kRemote6, kLocal6).udp(5000, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].family, 6);
  EXPECT_EQ(events_[0].proto, IPPROTO_UDP);
  EXPECT_EQ(events_[0].dport, htons(53));
  EXPECT_EQ(std::vector<uint8_t>(events_[0].saddr, events_[0].saddr + 16),
            addr(AF_INET6, kRemote6));
  EXPECT_EQ(std::vector<uint8_t>(events_[0].daddr, events_[0].daddr + 16), addr(AF_INET6, kLocal6));
}

TEST_F(Events, AllowedPacketsRaiseNoEvent) {
  open(test_options());
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8080).build();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_OK);
  drain();
  EXPECT_TRUE(events_.empty());
}

TEST_F(Events, AuditedWouldDropIsReportedAsPassed) {
  open(test_options(), WT_MODE_AUDIT);
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8081).build();
  ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_OK);
  drain();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(reason_text(events_[0].reason), reason_text(WT_REASON_DROP_POLICY));
  EXPECT_EQ(events_[0].verdict, WT_VERDICT_PASS);
  EXPECT_EQ(events_[0].mode, WT_MODE_AUDIT);
}

TEST_F(Events, SpoofDropOnStampIsReported) {
  std::string error;
  runner_ = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner_) << error;
  EndpointSetup ep;
  ep.flags = WT_EP_ANTISPOOF_V4;
  ep.ipv4 = kLocal4;
  ASSERT_EQ(runner_->configure(ep, {}), "");
  ASSERT_TRUE(runner_->datapath().on_event([this](const wt_event& e) { events_.push_back(e); }));
  auto frame = PacketBuilder::ipv4("198.18.0.3", kRemote4).udp(5000, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, frame, 0), TC_ACT_SHOT);
  drain();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].direction, WT_DIR_STAMP);
  EXPECT_EQ(events_[0].src_tag, 9u) << "the endpoint's own tag";
  EXPECT_EQ(reason_text(events_[0].reason), reason_text(WT_REASON_DROP_SPOOFED));
}

// The limit is per CPU: keep every run on one CPU.
void stay_on_this_cpu() {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
}

// The rate limit's loss count of the CPU this test runs on.
uint32_t lost_on_this_cpu(ProgRunner& runner) {
  std::vector<wt_ratelimit> state(libbpf_num_possible_cpus());
  uint32_t zero = 0;
  EXPECT_EQ(
      bpf_map_lookup_elem(runner.datapath().map_fd(WT_MAP_EVENT_RATELIMIT), &zero, state.data()),
      0);
  return state.at(sched_getcpu()).suppressed;
}

TEST_F(Events, RateLimitCapsEventsButNotCounters) {
  stay_on_this_cpu();
  auto options = test_options();
  options.events_per_sec = 3;
  open(options);
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8081).build();
  constexpr int kDrops = 20;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kDrops; ++i)
    ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  auto took = std::chrono::steady_clock::now() - start;
  drain();
  // A one-second window can only roll over if the loop itself stalled that long.
  if (took < std::chrono::milliseconds(900))
    EXPECT_EQ(events_.size(), 3u);
  else
    EXPECT_LT(events_.size(), size_t{kDrops});
  uint64_t dropped = 0;
  for (const auto& row : runner_->datapath().counters(kTestIfindex))
    if (row.key.reason == WT_REASON_DROP_POLICY && row.key.verdict == WT_VERDICT_DROP)
      dropped += row.total.packets;
  EXPECT_EQ(dropped, uint64_t{kDrops});
}

// With the budget spent, only every 64th suppressed event reads the clock: a window that
// ended long ago reopens on that event, not before. The state is written, not waited for.
TEST_F(Events, AnEndedWindowReopensOnTheSixtyFourthSuppressedEvent) {
  stay_on_this_cpu();
  auto options = test_options();
  options.events_per_sec = 3;
  open(options);
  int ncpu = libbpf_num_possible_cpus();
  ASSERT_GT(ncpu, 0);
  std::vector<wt_ratelimit> spent(ncpu, wt_ratelimit{0, 3, 0});  // started at boot, all sent
  uint32_t zero = 0;
  ASSERT_EQ(bpf_map_update_elem(runner_->datapath().map_fd(WT_MAP_EVENT_RATELIMIT), &zero,
                                spent.data(), BPF_ANY),
            0);
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8081).build();
  for (int i = 0; i < 63; ++i)
    ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  EXPECT_EQ(events_.size(), 0u) << "63 suppressed events do not look at the clock";

  ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  EXPECT_EQ(events_.size(), 1u) << "the 64th does, and opens a new window";
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  EXPECT_EQ(events_.size(), 3u) << "with the whole budget";
  EXPECT_EQ(lost_on_this_cpu(*runner_), 63u) << "the 64th was sent, not lost";
  ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  EXPECT_EQ(events_.size(), 3u);
  EXPECT_EQ(lost_on_this_cpu(*runner_), 64u) << "a loss in the new window adds to the old ones";
}

// suppressed counts every event not sent, across windows: a reader's deltas are the losses.
TEST_F(Events, EveryEventNotSentIsCountedAsLost) {
  stay_on_this_cpu();
  auto options = test_options();
  options.events_per_sec = 3;
  open(options);
  auto frame = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 8081).build();
  constexpr int kDrops = 20;
  for (int i = 0; i < kDrops; ++i)
    ASSERT_EQ(runner_->run_action(Program::Enforce, frame, 5), TC_ACT_SHOT);
  drain();
  EXPECT_EQ(events_.size() + lost_on_this_cpu(*runner_), size_t{kDrops});
}

}  // namespace
}  // namespace wiretag::test
