// The flow cache (abi.h, docs/datapath.md): enforce finds a reply in a way of the flow's
// set of the cell's shared cache, or, after a miss, through the spill bit of its port in `flows`.
// Each test checks verdicts the state must produce, so a cache that lost a flow, or a spill bit
// that was not set, fails it.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <set>

#include <random>
#include <linux/pkt_cls.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "datapath/flow_cache.h"
#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::PacketBuilder;

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1", kOtherRemote4 = "198.18.1.2";
const std::string kLocal6 = "2001:2::2", kRemote6 = "2001:2::1:1";
constexpr uint32_t kOtherTag = 6;
constexpr uint16_t kServerPort = 5432;

uint32_t addr4(const std::string& text) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &a), 1);
  uint32_t v;
  std::memcpy(&v, &a, 4);
  return v;
}

std::vector<uint8_t> syn_out(uint16_t local_port, const std::string& to = kRemote4) {
  return PacketBuilder::ipv4(kLocal4, to).tcp(local_port, kServerPort, datapath::kTcpSyn).build();
}

std::vector<uint8_t> ack_in(uint16_t local_port, const std::string& from = kRemote4) {
  return PacketBuilder::ipv4(from, kLocal4).tcp(kServerPort, local_port, datapath::kTcpAck).build();
}

// The first entry of the set (of a cache with `shift`) of an IPv4 flow kLocal4:local_port ->
// kRemote4:remote_port of the endpoint in `slot`, and an entry's contents when it holds that
// flow (but for the time in the stamp).
uint32_t set4(uint32_t shift, uint32_t slot, uint8_t proto, uint16_t local_port,
              uint16_t remote_port, wt_flow_cache_entry* want) {
  const uint64_t remote = addr4(kRemote4), local = addr4(kLocal4);
  const uint64_t ports = wt_flow_cache_ports(4, htons(remote_port), htons(local_port), slot);
  const uint64_t mix = wt_flow_cache_mix(0, remote, 0, local, ports, proto);
  if (want)
    *want = wt_flow_cache_entry{wt_flow_cache_stamp(0, mix, proto), 0, remote, 0, local, ports};
  return wt_flow_cache_set_entry(mix, shift, slot);
}

bool holds(const wt_flow_cache_entry& e, const wt_flow_cache_entry& want) {
  return e.remote_hi == want.remote_hi && e.remote_lo == want.remote_lo &&
         e.local_hi == want.local_hi && e.local_lo == want.local_lo && e.ports == want.ports &&
         (e.stamp & ~WT_FLOW_CACHE_TIME_MASK) == want.stamp;
}

// The smallest cache, so that flows sharing a set are easy to find.
datapath::Options small_cache() {
  datapath::Options o = test_options();
  o.flow_cache_sets = WT_FLOW_CACHE_MIN_SETS;
  return o;
}

class FlowCache : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner(small_cache());
    ASSERT_TRUE(runner_);
    ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");  // no rules: only replies pass
    slot_ = dp().endpoint_map().lookup(kTestIfindex)->slot;
  }
  datapath::Datapath& dp() { return runner_->datapath(); }
  uint32_t set_of(uint8_t proto, uint16_t local_port, uint16_t remote_port,
                  wt_flow_cache_entry* want = nullptr) {
    return set4(dp().flow_cache_shift(), slot_, proto, local_port, remote_port, want);
  }
  // The set of the TCP flow local_port -> kRemote4:kServerPort.
  uint32_t set_of(uint16_t local_port, wt_flow_cache_entry* want = nullptr) {
    return set_of(IPPROTO_TCP, local_port, kServerPort, want);
  }
  // Does a way of its set hold the TCP flow local_port -> kRemote4:kServerPort?
  bool cached(uint16_t local_port) {
    wt_flow_cache_entry want;
    const uint32_t first = set_of(local_port, &want);
    return holds(entry(first), want) || holds(entry(first + 1), want);
  }
  void clear_set(uint32_t first) {
    set_entry(first, wt_flow_cache_entry{});
    set_entry(first + 1, wt_flow_cache_entry{});
  }
  // `n` local ports whose flows to kRemote4:kServerPort share one set.
  std::vector<uint16_t> colliding_ports(size_t n) {
    std::vector<uint16_t> ports = {1024};
    const uint32_t set = set_of(1024);
    for (uint32_t p = 1025; p < 65535 && ports.size() < n; ++p)
      if (set_of(static_cast<uint16_t>(p)) == set) ports.push_back(static_cast<uint16_t>(p));
    return ports;
  }
  wt_flow_cache_entry entry(uint32_t index) {
    wt_flow_cache_entry e{};
    EXPECT_EQ(bpf_map_lookup_elem(dp().map_fd(WT_MAP_FLOW_CACHE), &index, &e), 0);
    return e;
  }
  void set_entry(uint32_t index, const wt_flow_cache_entry& e) {
    ASSERT_EQ(bpf_map_update_elem(dp().map_fd(WT_MAP_FLOW_CACHE), &index, &e, BPF_ANY), 0);
  }
  uint64_t spill_word(uint16_t port) {
    uint32_t index = slot_ * WT_FLOW_SPILL_WORDS + ((port & 4095) >> 6);
    uint64_t w = 0;
    EXPECT_EQ(bpf_map_lookup_elem(dp().map_fd(WT_MAP_FLOW_SPILL), &index, &w), 0);
    return w;
  }
  bool spilled(uint16_t port) { return spill_word(port) & (1ull << (port & 63)); }
  void set_spill(uint16_t port) {
    uint32_t index = slot_ * WT_FLOW_SPILL_WORDS + ((port & 4095) >> 6);
    uint64_t w = spill_word(port) | (1ull << (port & 63));
    ASSERT_EQ(bpf_map_update_elem(dp().map_fd(WT_MAP_FLOW_SPILL), &index, &w, BPF_ANY), 0);
  }
  void erase_all_flows() {
    std::vector<wt_flow_key> keys;
    dp().flow_map().for_each_key([&](const wt_flow_key& k) { keys.push_back(k); });
    ASSERT_FALSE(keys.empty());
    for (const auto& k : keys) ASSERT_TRUE(dp().flow_map().erase(k));
  }
  std::string reply_reason(uint16_t local_port, const std::string& from = kRemote4) {
    return reason_text(runner_->run(Program::Enforce, ack_in(local_port, from), kOtherTag).reason);
  }
  std::unique_ptr<ProgRunner> runner_;
  uint32_t slot_ = 0;
};

const std::string kReply = reason_text(WT_REASON_ALLOW_REPLY);
const std::string kDenied = reason_text(WT_REASON_DROP_POLICY);

TEST_F(FlowCache, StampCachesAnIpv4FlowAndItsReplyNeedsNoFlowsEntry) {
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(45000), 0), TC_ACT_OK);
  EXPECT_TRUE(cached(45000));
  EXPECT_FALSE(spilled(45000)) << "a cached flow is not spilled";

  erase_all_flows();  // only the cache can admit the reply now
  EXPECT_EQ(reply_reason(45000), kReply);
  EXPECT_EQ(reply_reason(45000, kOtherRemote4), kDenied) << "another peer, same ports";
  EXPECT_EQ(reply_reason(45001), kDenied) << "another local port";
  // Another address of the same container, same ports and peer: not the flow it opened.
  Outcome other_local = runner_->run(Program::Enforce,
                                     PacketBuilder::ipv4(kRemote4, "198.18.0.3")
                                         .tcp(kServerPort, 45000, datapath::kTcpAck)
                                         .build(),
                                     kOtherTag);
  EXPECT_EQ(reason_text(other_local.reason), kDenied) << other_local;
}

TEST_F(FlowCache, AfterAMissOnlyASpillBitSendsEnforceToFlows) {
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(45000), 0), TC_ACT_OK);
  // What a build without the cache leaves behind: the flow in `flows` only.
  clear_set(set_of(45000));
  EXPECT_EQ(reply_reason(45000), kDenied) << "a clear spill bit must prove there is no flow";
  set_spill(45000);
  EXPECT_EQ(reply_reason(45000), kReply);
}

TEST_F(FlowCache, FlowsSharingASetAllGetTheirReplies) {
  auto ports = colliding_ports(4);
  ASSERT_EQ(ports.size(), 4u);
  for (uint16_t p : ports) ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(p), 0), TC_ACT_OK);
  // Both ways are active (seen within two refresh periods): the first two flows keep them,
  // the others live in `flows` alone, their ports spilled.
  EXPECT_TRUE(cached(ports[0]));
  EXPECT_TRUE(cached(ports[1]));
  for (size_t i = 2; i < ports.size(); ++i) {
    EXPECT_FALSE(cached(ports[i])) << "port " << ports[i];
    EXPECT_TRUE(spilled(ports[i])) << "port " << ports[i];
  }
  for (uint16_t p : ports) {
    EXPECT_EQ(reply_reason(p), kReply) << "port " << p;
    EXPECT_EQ(reply_reason(p, kOtherRemote4), kDenied) << "port " << p << ", another peer";
  }
}

// More active flows than ways in a set: they must not take turns evicting each other, or
// every packet of each of them misses (a `flows` lookup, a compare-and-swap, six stores, a
// spill bit). The peer comparison's 4,096-flow load had a quarter of its flows in such sets.
TEST_F(FlowCache, ActiveIncumbentsKeepTheirWaysWhileANewcomerIsSent) {
  auto ports = colliding_ports(3);
  ASSERT_EQ(ports.size(), 3u);
  for (int round = 0; round < 3; ++round)
    for (uint16_t p : ports)
      ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(p), 0), TC_ACT_OK);
  EXPECT_TRUE(cached(ports[0])) << "an incumbent kept its way";
  EXPECT_TRUE(cached(ports[1])) << "an incumbent kept its way";
  EXPECT_FALSE(cached(ports[2])) << "the newcomer stays in flows";
  EXPECT_TRUE(spilled(ports[2]));
  for (uint16_t p : ports) EXPECT_EQ(reply_reason(p), kReply) << "port " << p;
}

TEST_F(FlowCache, AnExpiredWayIsTakenWithoutSpilling) {
  // UDP flows (timeout 120 s) from three local ports that share a set.
  std::vector<uint16_t> locals = {5000};
  std::vector<wt_flow_cache_entry> want(3);
  const uint32_t first = set_of(IPPROTO_UDP, 5000, 53, &want[0]);
  for (uint32_t p = 5001; locals.size() < 3 && p < 65535; ++p)
    if (set_of(IPPROTO_UDP, static_cast<uint16_t>(p), 53, &want[locals.size()]) == first)
      locals.push_back(static_cast<uint16_t>(p));
  ASSERT_EQ(locals.size(), 3u);
  auto out = [&](uint16_t local) {
    return PacketBuilder::ipv4(kLocal4, kRemote4).udp(local, 53).build();
  };
  auto reply = [&](uint16_t local) {
    return reason_text(runner_
                           ->run(Program::Enforce,
                                 PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, local).build(),
                                 kOtherTag)
                           .reason);
  };
  ASSERT_EQ(runner_->run_action(Program::Stamp, out(locals[0]), 0), TC_ACT_OK);
  ASSERT_EQ(runner_->run_action(Program::Stamp, out(locals[1]), 0), TC_ACT_OK);
  ASSERT_EQ(reply(locals[0]), kReply);

  // The first flow 130 s older, in the cache's clock (jiffies); stamped just now.
  const uint32_t index = holds(entry(first), want[0]) ? first : first + 1;
  wt_flow_cache_entry e = entry(index);
  ASSERT_TRUE(holds(e, want[0]));
  const uint64_t age = 130ull * dp().kernel_hz();
  e.stamp = (e.stamp & ~WT_FLOW_CACHE_TIME_MASK) |
            (((e.stamp & WT_FLOW_CACHE_TIME_MASK) - age) & WT_FLOW_CACHE_TIME_MASK);
  set_entry(index, e);
  EXPECT_EQ(reply(locals[0]), kDenied) << "an expired cached flow admits nothing";

  ASSERT_EQ(runner_->run_action(Program::Stamp, out(locals[2]), 0), TC_ACT_OK);
  EXPECT_TRUE(holds(entry(index), want[2])) << "the new flow took the expired way";
  EXPECT_FALSE(spilled(locals[0])) << "nothing live was evicted";
  EXPECT_EQ(reply(locals[2]), kReply);
  EXPECT_EQ(reply(locals[1]), kReply) << "the live flow kept its way";
  EXPECT_FALSE(spilled(locals[1]));
  EXPECT_EQ(reply(locals[0]), kDenied);
}

TEST_F(FlowCache, TheWaySeenLeastRecentlyIsEvicted) {
  auto ports = colliding_ports(3);
  ASSERT_EQ(ports.size(), 3u);
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(ports[0]), 0), TC_ACT_OK);
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(ports[1]), 0), TC_ACT_OK);
  // ports[1] seen 10 s ago (well within the TCP timeout), ports[0] just now.
  wt_flow_cache_entry want;
  const uint32_t first = set_of(ports[1], &want);
  const uint32_t index = holds(entry(first), want) ? first : first + 1;
  wt_flow_cache_entry e = entry(index);
  ASSERT_TRUE(holds(e, want));
  const uint64_t age = 10ull * dp().kernel_hz();
  e.stamp = (e.stamp & ~WT_FLOW_CACHE_TIME_MASK) |
            (((e.stamp & WT_FLOW_CACHE_TIME_MASK) - age) & WT_FLOW_CACHE_TIME_MASK);
  set_entry(index, e);

  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(ports[2]), 0), TC_ACT_OK);
  EXPECT_TRUE(cached(ports[2]));
  EXPECT_TRUE(cached(ports[0])) << "the flow seen last keeps its way";
  EXPECT_FALSE(cached(ports[1]));
  EXPECT_TRUE(spilled(ports[1])) << "a live flow evicted: its port sends enforce to flows";
  for (uint16_t p : ports) EXPECT_EQ(reply_reason(p), kReply) << "port " << p;
}

// The reason for a shared, set-associative cache: a sender with thousands of flows (a
// client fanning out, a load generator) keeps them cached, where a per-endpoint cache of
// 512 entries missed on every packet. With the default size (64 sets per endpoint).
// One endpoint's flows fall in a region of WT_FLOW_CACHE_REGION_SETS consecutive sets (its
// slot picks where), so a sender's thousands of flows touch 768 KiB of a cache of up to 6 MiB
// (docs/datapath.md); different endpoints' regions start apart, and a cache no larger than a
// region is one region.
TEST(FlowCacheRegion, AnEndpointsFlowsStayInItsRegion) {
  const uint32_t sets = WT_FLOW_CACHE_MAX_SETS, shift = datapath::flow_cache_shift_of(sets);
  std::mt19937_64 rng(7);
  std::set<uint32_t> starts;
  for (uint32_t slot : {0u, 1u, 2u, 500u, 1023u}) {
    std::set<uint32_t> used;
    for (int i = 0; i < 160000; ++i) {  // enough draws to find every set of the region
      const uint32_t entry = wt_flow_cache_set_entry(rng(), shift, slot);
      ASSERT_EQ(entry % WT_FLOW_CACHE_WAYS, 0u);
      ASSERT_LT(entry / WT_FLOW_CACHE_WAYS, sets);
      used.insert(entry / WT_FLOW_CACHE_WAYS);
    }
    // All of the region, nothing outside it: the sets in use, taken from the region's first
    // (the one after a gap, as it may wrap), are consecutive.
    ASSERT_EQ(used.size(), WT_FLOW_CACHE_REGION_SETS) << "slot " << slot;
    uint32_t first = *used.begin();
    for (uint32_t s : used)
      if (!used.count((s + sets - 1) % sets)) first = s;
    for (uint32_t k = 0; k < WT_FLOW_CACHE_REGION_SETS; ++k)
      ASSERT_TRUE(used.count((first + k) % sets)) << "slot " << slot << " set " << first + k;
    starts.insert(first);
  }
  EXPECT_EQ(starts.size(), 5u) << "each endpoint's region starts elsewhere";
  // The smallest cache is smaller than a region: every flow may use all of it.
  const uint32_t small = datapath::flow_cache_shift_of(WT_FLOW_CACHE_MIN_SETS);
  std::set<uint32_t> used;
  for (int i = 0; i < 100000; ++i) used.insert(wt_flow_cache_set_entry(rng(), small, 3) / 2);
  EXPECT_EQ(used.size(), WT_FLOW_CACHE_MIN_SETS);
}

TEST(FlowCacheSize, AnEndpointWithThousandsOfFlowsKeepsThemCached) {
  auto runner = open_runner(test_options());
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {}), "");
  auto& dp = runner->datapath();
  const uint32_t slot = dp.endpoint_map().lookup(kTestIfindex)->slot;
  constexpr int kFlows = 4096;
  for (int i = 0; i < kFlows; ++i)
    ASSERT_EQ(runner->run_action(Program::Stamp, syn_out(static_cast<uint16_t>(20000 + i)), 0),
              TC_ACT_OK);
  const int fd = dp.map_fd(WT_MAP_FLOW_CACHE);
  int cached = 0;
  for (int i = 0; i < kFlows; ++i) {
    wt_flow_cache_entry want;
    const uint32_t first = set4(dp.flow_cache_shift(), slot, IPPROTO_TCP,
                                static_cast<uint16_t>(20000 + i), kServerPort, &want);
    for (uint32_t way = 0; way < WT_FLOW_CACHE_WAYS; ++way) {
      uint32_t index = first + way;
      wt_flow_cache_entry e{};
      ASSERT_EQ(bpf_map_lookup_elem(fd, &index, &e), 0);
      if (holds(e, want)) ++cached;
    }
  }
  // A flow is evicted only from a set that three of them share: a few in 4,096.
  EXPECT_GE(cached, kFlows - kFlows / 100) << "of " << kFlows << " flows";
  for (int i = 0; i < kFlows; i += 97)
    EXPECT_EQ(reason_text(
                  runner->run(Program::Enforce, ack_in(static_cast<uint16_t>(20000 + i)), kOtherTag)
                      .reason),
              kReply);
}

TEST_F(FlowCache, Ipv6FlowsAreCachedByTheWholeAddress) {
  auto out = PacketBuilder::ipv6(kLocal6, kRemote6).udp(5353, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  EXPECT_FALSE(spilled(5353));
  erase_all_flows();
  auto reply_from = [&](const std::string& remote) {
    return reason_text(runner_
                           ->run(Program::Enforce,
                                 PacketBuilder::ipv6(remote, kLocal6).udp(53, 5353).build(),
                                 kOtherTag)
                           .reason);
  };
  EXPECT_EQ(reply_from(kRemote6), kReply);
  EXPECT_EQ(reply_from("2001:2::1:2"), kDenied) << "another last byte";
  EXPECT_EQ(reply_from("2001:2:0:1::1:1"), kDenied) << "another first half";
  Outcome other_local =
      runner_->run(Program::Enforce,
                   PacketBuilder::ipv6(kRemote6, "2001:2::3").udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(other_local.reason), kDenied) << "another local address: " << other_local;
  Outcome v4 = runner_->run(
      Program::Enforce, PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(v4.reason), kDenied) << "IPv4, same ports";
}

TEST_F(FlowCache, IcmpEchoIsCachedByIdentifier) {
  ASSERT_EQ(
      runner_->run_action(Program::Stamp,
                          PacketBuilder::ipv4(kLocal4, kRemote4).icmp_echo_request(77).build(), 0),
      TC_ACT_OK);
  erase_all_flows();
  auto reply = [&](uint16_t id) {
    return reason_text(runner_
                           ->run(Program::Enforce,
                                 PacketBuilder::ipv4(kRemote4, kLocal4).icmp_echo_reply(id).build(),
                                 kOtherTag)
                           .reason);
  };
  EXPECT_EQ(reply(77), kReply);
  EXPECT_EQ(reply(78), kDenied);
}

TEST_F(FlowCache, AReusedSlotStartsWithAnEmptyCache) {
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(45000), 0), TC_ACT_OK);
  ASSERT_EQ(reply_reason(45000), kReply);
  ASSERT_TRUE(dp().forget(kTestIfindex));
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  ASSERT_EQ(dp().endpoint_map().lookup(kTestIfindex)->slot, slot_) << "the same slot again";
  EXPECT_FALSE(cached(45000));
  EXPECT_EQ(reply_reason(45000), kDenied) << "a flow of the slot's last owner";
}

// Two CPUs stamp four flows that share one set, so its ways change hands all the time, and check
// the replies of every flow in between: a reply lost to a race fails the test.
TEST_F(FlowCache, ConcurrentStampsOfCollidingFlowsNeverLoseAReply) {
  auto ports = colliding_ports(4);
  ASSERT_EQ(ports.size(), 4u);
  for (uint16_t p : ports) ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(p), 0), TC_ACT_OK);
  std::vector<std::vector<uint8_t>> out, in;
  for (uint16_t p : ports) {
    out.push_back(syn_out(p));
    in.push_back(ack_in(p));
  }
  std::atomic<int> lost{0}, errors{0};
  auto work = [&](size_t first) {
    for (int round = 0; round < 3000; ++round) {
      for (size_t i = first; i < ports.size(); i += 2)
        if (runner_->run_action(Program::Stamp, out[i], 0) != TC_ACT_OK) ++errors;
      for (const auto& pkt : in) {
        int rc = runner_->run_action(Program::Enforce, pkt, kOtherTag);
        if (rc == TC_ACT_SHOT)
          ++lost;
        else if (rc != TC_ACT_OK)
          ++errors;
      }
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(lost.load(), 0) << "replies dropped while their flows' entry changed hands";
  for (uint16_t p : ports) EXPECT_EQ(reply_reason(p), kReply) << "port " << p;
}

// The services API's flush-flows (Datapath::flush_flows): a flow's `flows` entry and its cache
// entry are both forgotten, so its reply is no reply any more; sending again records it anew.
TEST_F(FlowCache, FlushedFlowsAreNoRepliesUntilSentAgain) {
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(40000), 0), TC_ACT_OK);
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(40001), 0), TC_ACT_OK);
  ASSERT_EQ(reply_reason(40000), kReply);
  auto flushed = dp().flush_flows();
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ(*flushed, 2u);
  size_t left = 0;
  dp().flow_map().for_each_key([&](const wt_flow_key&) { ++left; });
  EXPECT_EQ(left, 0u);
  EXPECT_FALSE(cached(40000));
  EXPECT_EQ(reply_reason(40000), reason_text(WT_REASON_DROP_POLICY));
  EXPECT_EQ(reply_reason(40001), reason_text(WT_REASON_DROP_POLICY));
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(40000), 0), TC_ACT_OK);
  EXPECT_EQ(reply_reason(40000), kReply);
  EXPECT_EQ(reply_reason(40001), reason_text(WT_REASON_DROP_POLICY));
  // Of one endpoint only: another ifindex's flows stay.
  ASSERT_EQ(*dp().flush_flows(kTestIfindex + 1000), 0u);
  EXPECT_EQ(reply_reason(40000), kReply);
}

}  // namespace
}  // namespace wiretag::test
