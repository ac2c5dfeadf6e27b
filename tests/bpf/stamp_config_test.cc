// stamp_config (abi.h): stamp reads an endpoint's tag, mode and anti-spoof addresses from its
// slot's entry, guarded by a sequence count, and falls back to the endpoints hash whenever
// that entry is not a consistent copy of this endpoint's config. Each test makes the hash
// and the entry disagree on the tag, so the stamped mark says which one stamp read.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::PacketBuilder;

constexpr uint32_t kTag = 9, kHashOnlyTag = 77;

EndpointSetup tagged(uint32_t tag) {
  EndpointSetup e;
  e.tag = tag;
  return e;
}

class StampConfig : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner();
    ASSERT_TRUE(runner_);
    ASSERT_EQ(runner_->configure(tagged(kTag), {}), "");
    slot_ = dp().endpoint_map().lookup(kTestIfindex)->slot;
  }
  datapath::Datapath& dp() { return runner_->datapath(); }
  uint32_t stamped_mark() {
    auto out = PacketBuilder::ipv4("198.18.0.2", "198.18.1.1").udp(5353, 53).build();
    Outcome o = runner_->run(Program::Stamp, out, 0);
    EXPECT_EQ(o.retval, TC_ACT_OK) << o;
    return o.mark;
  }
  // The hash alone says another tag (what only a reader of the hash would stamp).
  void retag_hash_only() {
    wt_endpoint ep = *dp().endpoint_map().lookup(kTestIfindex);
    ep.tag = kHashOnlyTag;
    ASSERT_TRUE(dp().endpoint_map().update(kTestIfindex, ep));
  }
  wt_stamp_config entry() {
    wt_stamp_config c{};
    uint32_t key = slot_;
    EXPECT_EQ(bpf_map_lookup_elem(dp().map_fd(WT_MAP_STAMP_CONFIG), &key, &c), 0);
    return c;
  }
  void set_entry(const wt_stamp_config& c) {
    uint32_t key = slot_;
    ASSERT_EQ(bpf_map_update_elem(dp().map_fd(WT_MAP_STAMP_CONFIG), &key, &c, BPF_ANY), 0);
  }
  std::unique_ptr<ProgRunner> runner_;
  uint32_t slot_ = 0;
};

TEST_F(StampConfig, StampReadsTheSlotsEntryNotTheHash) {
  const wt_stamp_config c = entry();
  EXPECT_EQ(static_cast<uint32_t>(c.id), kTestIfindex);
  EXPECT_EQ(static_cast<uint32_t>(c.id >> 32), kTag);
  EXPECT_EQ(c.seq % 2, 0u) << "written completely";
  retag_hash_only();
  EXPECT_EQ(stamped_mark(), kTag);
}

TEST_F(StampConfig, AnEntryBeingWrittenSendsStampToTheHash) {
  retag_hash_only();
  wt_stamp_config c = entry();
  c.seq |= 1;
  set_entry(c);
  EXPECT_EQ(stamped_mark(), kHashOnlyTag);
}

TEST_F(StampConfig, AnEntryOfAnotherEndpointSendsStampToTheHash) {
  retag_hash_only();
  wt_stamp_config c = entry();
  c.id = (c.id & ~0xffffffffull) | (kTestIfindex + 1000);
  set_entry(c);
  EXPECT_EQ(stamped_mark(), kHashOnlyTag);
}

TEST_F(StampConfig, ANewTagIsStampedAtOnce) {
  ASSERT_EQ(runner_->configure(tagged(31), {}), "");
  EXPECT_EQ(stamped_mark(), 31u);
  EXPECT_EQ(entry().seq % 2, 0u);
}

TEST_F(StampConfig, AntiSpoofAddressesComeFromTheEntry) {
  EndpointSetup guarded = tagged(kTag);
  guarded.flags = WT_EP_ANTISPOOF_V4 | WT_EP_ANTISPOOF_V6;
  guarded.ipv4 = "198.18.0.2";
  guarded.ipv6 = "2001:2::2";
  ASSERT_EQ(runner_->configure(guarded, {}), "");
  retag_hash_only();  // the fast path in use: the mark says so
  auto run = [&](const std::vector<uint8_t>& frame) { return runner_->run(Program::Stamp, frame, 0); };
  Outcome own4 = run(PacketBuilder::ipv4("198.18.0.2", "198.18.1.1").udp(1, 2).build());
  EXPECT_EQ(reason_text(own4.reason), reason_text(WT_REASON_STAMPED)) << own4;
  EXPECT_EQ(own4.mark, kTag);
  Outcome spoofed4 = run(PacketBuilder::ipv4("198.18.0.3", "198.18.1.1").udp(1, 2).build());
  EXPECT_EQ(reason_text(spoofed4.reason), reason_text(WT_REASON_DROP_SPOOFED)) << spoofed4;
  Outcome own6 = run(PacketBuilder::ipv6("2001:2::2", "2001:2::1:1").udp(1, 2).build());
  EXPECT_EQ(reason_text(own6.reason), reason_text(WT_REASON_STAMPED)) << own6;
  Outcome spoofed6 = run(PacketBuilder::ipv6("2001:2::3", "2001:2::1:1").udp(1, 2).build());
  EXPECT_EQ(reason_text(spoofed6.reason), reason_text(WT_REASON_DROP_SPOOFED)) << spoofed6;
}

TEST_F(StampConfig, AReusedSlotStampsItsNewEndpointsTag) {
  ASSERT_TRUE(dp().forget(kTestIfindex));
  EXPECT_EQ(static_cast<uint32_t>(entry().id), 0u) << "emptied with the endpoint";
  ASSERT_EQ(runner_->configure(tagged(44), {}), "");
  ASSERT_EQ(dp().endpoint_map().lookup(kTestIfindex)->slot, slot_);
  EXPECT_EQ(stamped_mark(), 44u);
}

TEST_F(StampConfig, AForgottenEndpointIsNotStamped) {
  ASSERT_TRUE(dp().forget(kTestIfindex));
  auto out = PacketBuilder::ipv4("198.18.0.2", "198.18.1.1").udp(5353, 53).build();
  Outcome o = runner_->run(Program::Stamp, out, 0);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_DROP_NO_ENDPOINT)) << o;
}

}  // namespace
}  // namespace wiretag::test
