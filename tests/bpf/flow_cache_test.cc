// The IPv4 flow cache (abi.h, docs/datapath.md): enforce finds a reply in the endpoint's
// cache entry, or, after a miss, through the spill bit of its port in `flows`. Each test
// checks verdicts the state must produce, so a cache that lost a flow, or a spill bit that
// was not set, fails it.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

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

// The cache entry of the TCP flow local_port -> kRemote4:kServerPort in `slot`, and the
// entry's contents when it holds that flow (but for the time in the stamp).
// The cache entry of an IPv4 flow kLocal4:local_port -> kRemote4:remote_port in `slot`, and
// the entry's contents when it holds that flow (but for the time in the stamp).
uint32_t entry4(uint32_t slot, uint8_t proto, uint16_t local_port, uint16_t remote_port,
                wt_flow_cache_entry* want) {
  const uint64_t remote = addr4(kRemote4), local = addr4(kLocal4);
  const uint64_t ports = wt_flow_cache_ports(4, htons(remote_port), htons(local_port));
  const uint64_t mix = wt_flow_cache_mix(0, remote, 0, local, ports, proto);
  if (want) *want = wt_flow_cache_entry{wt_flow_cache_stamp(0, mix, proto), 0, remote, 0, local, ports};
  return wt_flow_cache_index(slot, mix);
}

// The same for the TCP flow local_port -> kRemote4:kServerPort.
uint32_t entry_of(uint32_t slot, uint16_t local_port, wt_flow_cache_entry* want = nullptr) {
  return entry4(slot, IPPROTO_TCP, local_port, kServerPort, want);
}

bool holds(const wt_flow_cache_entry& e, const wt_flow_cache_entry& want) {
  return e.remote_hi == want.remote_hi && e.remote_lo == want.remote_lo &&
         e.local_hi == want.local_hi && e.local_lo == want.local_lo && e.ports == want.ports &&
         (e.stamp & ~WT_FLOW_CACHE_TIME_MASK) == want.stamp;
}

// `n` local ports whose flows to kRemote4:kServerPort share one cache entry.
std::vector<uint16_t> colliding_ports(uint32_t slot, size_t n) {
  std::vector<uint16_t> ports = {40000};
  const uint32_t entry = entry_of(slot, 40000);
  for (uint32_t p = 40001; p < 65535 && ports.size() < n; ++p)
    if (entry_of(slot, static_cast<uint16_t>(p)) == entry) ports.push_back(static_cast<uint16_t>(p));
  return ports;
}

class FlowCache : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner();
    ASSERT_TRUE(runner_);
    ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");  // no rules: only replies pass
    slot_ = dp().endpoint_map().lookup(kTestIfindex)->slot;
  }
  datapath::Datapath& dp() { return runner_->datapath(); }
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
  wt_flow_cache_entry want;
  EXPECT_TRUE(holds(entry(entry_of(slot_, 45000, &want)), want));
  EXPECT_FALSE(spilled(45000)) << "a cached flow is not spilled";

  erase_all_flows();  // only the cache can admit the reply now
  EXPECT_EQ(reply_reason(45000), kReply);
  EXPECT_EQ(reply_reason(45000, kOtherRemote4), kDenied) << "another peer, same ports";
  EXPECT_EQ(reply_reason(45001), kDenied) << "another local port";
  // Another address of the same container, same ports and peer: not the flow it opened.
  Outcome other_local = runner_->run(
      Program::Enforce,
      PacketBuilder::ipv4(kRemote4, "198.18.0.3").tcp(kServerPort, 45000, datapath::kTcpAck).build(),
      kOtherTag);
  EXPECT_EQ(reason_text(other_local.reason), kDenied) << other_local;
}

TEST_F(FlowCache, AfterAMissOnlyASpillBitSendsEnforceToFlows) {
  ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(45000), 0), TC_ACT_OK);
  // What a build without the cache leaves behind: the flow in `flows` only.
  set_entry(entry_of(slot_, 45000), wt_flow_cache_entry{});
  EXPECT_EQ(reply_reason(45000), kDenied) << "a clear spill bit must prove there is no flow";
  set_spill(45000);
  EXPECT_EQ(reply_reason(45000), kReply);
}

TEST_F(FlowCache, FlowsSharingAnEntryAllGetTheirReplies) {
  auto ports = colliding_ports(slot_, 4);
  ASSERT_EQ(ports.size(), 4u);
  for (uint16_t p : ports) ASSERT_EQ(runner_->run_action(Program::Stamp, syn_out(p), 0), TC_ACT_OK);
  wt_flow_cache_entry last;
  EXPECT_TRUE(holds(entry(entry_of(slot_, ports.back(), &last)), last)) << "the newest flow is cached";
  for (size_t i = 0; i + 1 < ports.size(); ++i)
    EXPECT_TRUE(spilled(ports[i])) << "evicted flow on port " << ports[i];
  for (uint16_t p : ports) {
    EXPECT_EQ(reply_reason(p), kReply) << "port " << p;
    EXPECT_EQ(reply_reason(p, kOtherRemote4), kDenied) << "port " << p << ", another peer";
  }
}

TEST_F(FlowCache, AnExpiredEntryIsTakenWithoutSpilling) {
  // UDP flows (timeout 120 s) from two local ports that share an entry.
  auto udp_entry = [&](uint16_t local, wt_flow_cache_entry* want) {
    return entry4(slot_, IPPROTO_UDP, local, 53, want);
  };
  wt_flow_cache_entry t0, t1;
  const uint32_t index = udp_entry(5000, &t0);
  uint16_t other = 5001;
  while (udp_entry(other, &t1) != index) ++other;
  auto out = [&](uint16_t local) { return PacketBuilder::ipv4(kLocal4, kRemote4).udp(local, 53).build(); };
  auto reply = [&](uint16_t local) {
    return reason_text(
        runner_->run(Program::Enforce, PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, local).build(), kOtherTag)
            .reason);
  };
  ASSERT_EQ(runner_->run_action(Program::Stamp, out(5000), 0), TC_ACT_OK);
  ASSERT_EQ(reply(5000), kReply);

  // 130 s older, in the cache's clock (jiffies); the entry was stamped just now.
  wt_flow_cache_entry e = entry(index);
  ASSERT_TRUE(holds(e, t0));
  const uint64_t age = 130ull * dp().kernel_hz();
  e.stamp = (e.stamp & ~WT_FLOW_CACHE_TIME_MASK) | (((e.stamp & WT_FLOW_CACHE_TIME_MASK) - age) & WT_FLOW_CACHE_TIME_MASK);
  set_entry(index, e);
  EXPECT_EQ(reply(5000), kDenied) << "an expired cached flow admits nothing";

  ASSERT_EQ(runner_->run_action(Program::Stamp, out(other), 0), TC_ACT_OK);
  EXPECT_TRUE(holds(entry(index), t1));
  EXPECT_FALSE(spilled(5000)) << "nothing live was evicted";
  EXPECT_EQ(reply(other), kReply);
  EXPECT_EQ(reply(5000), kDenied);
}

TEST_F(FlowCache, Ipv6FlowsAreCachedByTheWholeAddress) {
  auto out = PacketBuilder::ipv6(kLocal6, kRemote6).udp(5353, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  EXPECT_FALSE(spilled(5353));
  erase_all_flows();
  auto reply_from = [&](const std::string& remote) {
    return reason_text(
        runner_->run(Program::Enforce, PacketBuilder::ipv6(remote, kLocal6).udp(53, 5353).build(), kOtherTag)
            .reason);
  };
  EXPECT_EQ(reply_from(kRemote6), kReply);
  EXPECT_EQ(reply_from("2001:2::1:2"), kDenied) << "another last byte";
  EXPECT_EQ(reply_from("2001:2:0:1::1:1"), kDenied) << "another first half";
  Outcome other_local = runner_->run(
      Program::Enforce, PacketBuilder::ipv6(kRemote6, "2001:2::3").udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(other_local.reason), kDenied) << "another local address: " << other_local;
  Outcome v4 = runner_->run(Program::Enforce, PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, 5353).build(),
                            kOtherTag);
  EXPECT_EQ(reason_text(v4.reason), kDenied) << "IPv4, same ports";
}

TEST_F(FlowCache, IcmpEchoIsCachedByIdentifier) {
  ASSERT_EQ(runner_->run_action(Program::Stamp,
                                PacketBuilder::ipv4(kLocal4, kRemote4).icmp_echo_request(77).build(), 0),
            TC_ACT_OK);
  erase_all_flows();
  auto reply = [&](uint16_t id) {
    return reason_text(runner_->run(Program::Enforce,
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
  EXPECT_EQ(entry(entry_of(slot_, 45000)).stamp, 0u);
  EXPECT_EQ(reply_reason(45000), kDenied) << "a flow of the slot's last owner";
}

// Two CPUs stamp flows that share one entry, so it changes hands all the time, and check the
// replies of every flow in between: a reply lost to a race fails the test.
TEST_F(FlowCache, ConcurrentStampsOfCollidingFlowsNeverLoseAReply) {
  auto ports = colliding_ports(slot_, 4);
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
        if (rc == TC_ACT_SHOT) ++lost;
        else if (rc != TC_ACT_OK) ++errors;
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
  EXPECT_EQ(entry(entry_of(slot_, 40000)).stamp, 0u);
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
