// The fast path (bpf/lib/fastpath.h): stamp's packet of a flow the cache holds fresh, and
// enforce's reply the flow cache knows or packet with a cached verdict, skip the full decision. Each test first puts the
// packet's flow or verdict where the fast path finds it, then sends a packet that it must
// hand to the full decision (or answer as the full decision does), and checks the answer.
// Each fails when the fast path skips the check it names.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <arpa/inet.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::PacketBuilder;

// The endpoint (local) and a peer, on the test networks.
const char* const kLocal4 = "198.18.0.2";
const char* const kRemote4 = "198.18.1.1";
const char* const kLocal6 = "2001:2::2";
const char* const kRemote6 = "2001:2::1:1";
constexpr uint32_t kTag = 5;                        // the peer's tag
constexpr uint16_t kPort = 8080, kClientPort = 41000;  // the endpoint's service, a client port

std::string text(uint32_t reason) { return reason_text(reason); }

class FastPath : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner();
    ASSERT_TRUE(runner_);
  }
  datapath::Datapath& dp() { return runner_->datapath(); }
  Outcome stamp(const std::vector<uint8_t>& pkt) { return runner_->run(Program::Stamp, pkt, 0); }
  Outcome enforce(const std::vector<uint8_t>& pkt, uint32_t tag = kTag) {
    return runner_->run(Program::Enforce, pkt, tag);
  }
  // Sends the packet out twice: its flow is then cached and fresh, the fast path's case.
  void cache_flow(const std::vector<uint8_t>& pkt) {
    for (int i = 0; i < 2; ++i) {
      Outcome o = stamp(pkt);
      ASSERT_EQ(text(o.reason), text(WT_REASON_STAMPED)) << o;
    }
  }
  // Sends the packet in twice: its verdict is then cached, the fast path's case.
  void cache_allow(const std::vector<uint8_t>& pkt) {
    for (int i = 0; i < 2; ++i) {
      Outcome o = enforce(pkt);
      ASSERT_EQ(text(o.reason), text(WT_REASON_ALLOW_RULE)) << o;
    }
  }
  void change_settings(const std::function<void(datapath::EndpointSettings&)>& change) {
    auto ep = dp().endpoint_map().lookup(kTestIfindex);
    ASSERT_TRUE(ep);
    auto settings = datapath::settings_of(*ep);
    change(settings);
    ASSERT_TRUE(dp().configure(kTestIfindex, settings));
  }
  std::unique_ptr<ProgRunner> runner_;
};

PacketBuilder out4() { return PacketBuilder::ipv4(kLocal4, kRemote4); }
PacketBuilder in4() { return PacketBuilder::ipv4(kRemote4, kLocal4); }
PacketBuilder out6() { return PacketBuilder::ipv6(kLocal6, kRemote6); }
PacketBuilder in6() { return PacketBuilder::ipv6(kRemote6, kLocal6); }

TEST_F(FastPath, APacketOfACachedFlowIsStampedAndCountedWithItsLength) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  for (const auto& pkt : {out4().udp(kClientPort, 53).payload(18).build(),
                          out6().tcp(kClientPort, 80, kTcpAck).build()}) {
    cache_flow(pkt);
    Outcome o = stamp(pkt);
    EXPECT_EQ(text(o.reason), text(WT_REASON_STAMPED)) << o;
    EXPECT_EQ(o.retval, TC_ACT_OK);
    EXPECT_EQ(o.mark, EndpointSetup{}.tag);
    EXPECT_EQ(o.counter_rows_changed, 1) << o;
  }
}

TEST_F(FastPath, AntiSpoofingSwitchedOnAfterAFlowWasCachedDropsItsNextPacket) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  const auto v4 = out4().udp(kClientPort, 53).build();
  const auto v6 = out6().udp(kClientPort, 53).build();
  cache_flow(v4);
  cache_flow(v6);
  change_settings([](datapath::EndpointSettings& s) {
    s.antispoof_ipv4 = std::array<uint8_t, 4>{198, 18, 0, 3};  // another address
    s.antispoof_ipv6 = std::array<uint8_t, 16>{0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
  });
  EXPECT_EQ(text(stamp(v4).reason), text(WT_REASON_DROP_SPOOFED));
  EXPECT_EQ(text(stamp(v6).reason), text(WT_REASON_DROP_SPOOFED));
}

TEST_F(FastPath, BypassSwitchedOnAfterAFlowWasCachedIsCountedAsBypass) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{kPort, kPort}}}), "");
  const auto out = out4().udp(kClientPort, 53).build();
  const auto in = in4().udp(kClientPort, kPort).build();
  cache_flow(out);
  cache_allow(in);
  change_settings([](datapath::EndpointSettings& s) { s.mode = datapath::Mode::Bypass; });
  EXPECT_EQ(text(stamp(out).reason), text(WT_REASON_ALLOW_BYPASS));
  EXPECT_EQ(text(enforce(in).reason), text(WT_REASON_ALLOW_BYPASS));
}

TEST_F(FastPath, MalformedPacketsOfACachedFlowAreDroppedForWhatIsWrong) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{kPort, kPort}}}), "");
  struct Case {
    const char* what;
    std::vector<uint8_t> pkt;
    uint32_t want;
  };
  // Each of the same flow as its well-formed packet, which comes first.
  const std::vector<std::pair<std::vector<uint8_t>, Case>> out_cases = {
      {out4().tcp(kClientPort, 80, kTcpAck).build(),
       {"data offset below 5", out4().tcp(kClientPort, 80, kTcpAck, 4).build(),
        WT_REASON_DROP_TCP_DOFF}},
      {out4().tcp(kClientPort, 80, kTcpAck).build(),
       {"IPv4 total length past the frame", out4().tcp(kClientPort, 80, kTcpAck).total_length(200).build(),
        WT_REASON_DROP_L3_TRUNCATED}},
      {out6().udp(kClientPort, 53).build(),
       {"IPv6 payload length past the frame", out6().udp(kClientPort, 53).total_length(200).build(),
        WT_REASON_DROP_L3_TRUNCATED}},
      {out4().udp(kClientPort, 53).build(),
       {"IPv4 IHL below 5", out4().udp(kClientPort, 53).ihl(4).build(), WT_REASON_DROP_IPV4_IHL}},
  };
  for (const auto& [good, c] : out_cases) {
    cache_flow(good);
    Outcome o = stamp(c.pkt);
    EXPECT_EQ(text(o.reason), text(c.want)) << "stamp: " << c.what << ": " << o;
  }
  const auto good_in = in4().tcp(kClientPort, kPort, kTcpAck).build();
  cache_allow(good_in);
  Outcome o = enforce(in4().tcp(kClientPort, kPort, kTcpAck, 3).build());
  EXPECT_EQ(text(o.reason), text(WT_REASON_DROP_TCP_DOFF)) << o;
  o = enforce(in4().tcp(kClientPort, kPort, kTcpAck).total_length(300).build());
  EXPECT_EQ(text(o.reason), text(WT_REASON_DROP_L3_TRUNCATED)) << o;
}

TEST_F(FastPath, AnAllowedFirstFragmentStillAdmitsTheRestOfItsDatagram) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{kPort, kPort}}}), "");
  cache_allow(in4().udp(kClientPort, kPort).build());
  Outcome first = enforce(in4().udp(kClientPort, kPort).payload(64).fragment(0, true, 77).build());
  ASSERT_EQ(text(first.reason), text(WT_REASON_ALLOW_RULE)) << first;
  Outcome later = enforce(in4().raw_l4(IPPROTO_UDP, 0).payload(64).fragment(9, false, 77).build());
  EXPECT_EQ(text(later.reason), text(WT_REASON_ALLOW_FRAGMENT)) << later;

  cache_allow(in6().udp(kClientPort, kPort).build());
  Outcome first6 = enforce(in6().fragment(0, true, 78).udp(kClientPort, kPort).payload(64).build());
  ASSERT_EQ(text(first6.reason), text(WT_REASON_ALLOW_RULE)) << first6;
  Outcome later6 = enforce(in6().fragment(9, false, 78).raw_l4(IPPROTO_UDP, 0).payload(64).build());
  EXPECT_EQ(text(later6.reason), text(WT_REASON_ALLOW_FRAGMENT)) << later6;
}

TEST_F(FastPath, AReplyIsCountedAsAReplyThoughARuleAllowsItsPortToo) {
  // A rule allows the tag to the local port, and the endpoint also sends from that port.
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{kPort, kPort}},
                                                  {kTag, Protocol::Tcp, PortRange{kPort, kPort}}}),
            "");
  cache_allow(in4().udp(kClientPort, kPort).build());
  cache_allow(in4().tcp(kClientPort, kPort, kTcpAck).build());
  cache_flow(out4().udp(kPort, 53).build());
  cache_flow(out4().tcp(kPort, 80, kTcpAck).build());
  Outcome udp = enforce(in4().udp(53, kPort).build());
  EXPECT_EQ(text(udp.reason), text(WT_REASON_ALLOW_REPLY)) << udp;
  Outcome tcp = enforce(in4().tcp(80, kPort, kTcpAck).build());
  EXPECT_EQ(text(tcp.reason), text(WT_REASON_ALLOW_REPLY)) << tcp;
  // A bare SYN is never a reply: the rule admits it.
  Outcome syn = enforce(in4().tcp(80, kPort, kTcpSyn).build());
  EXPECT_EQ(text(syn.reason), text(WT_REASON_ALLOW_RULE)) << syn;
}

TEST_F(FastPath, AReplyFromAnUntaggedPeerIsAReplyAndItsOtherPacketsFollowTheSetting) {
  EndpointSetup setup;
  setup.untagged = WT_UNTAGGED_DENY;
  ASSERT_EQ(runner_->configure(setup, {}), "");
  cache_flow(out4().udp(kClientPort, 53).build());
  cache_flow(out6().tcp(kClientPort, 443, kTcpAck).build());
  for (int i = 0; i < 2; ++i) {
    Outcome udp = enforce(in4().udp(53, kClientPort).build(), 0);
    EXPECT_EQ(text(udp.reason), text(WT_REASON_ALLOW_REPLY)) << udp;
    Outcome tcp = enforce(in6().tcp(443, kClientPort, kTcpAck).build(), 0);
    EXPECT_EQ(text(tcp.reason), text(WT_REASON_ALLOW_REPLY)) << tcp;
  }
  // The same port from another peer, or another port: no reply, and untagged.
  Outcome other_peer = enforce(PacketBuilder::ipv4("198.18.1.9", kLocal4).udp(53, kClientPort).build(), 0);
  EXPECT_EQ(text(other_peer.reason), text(WT_REASON_DROP_UNTAGGED)) << other_peer;
  Outcome other_port = enforce(in4().udp(53, kClientPort + 1).build(), 0);
  EXPECT_EQ(text(other_port.reason), text(WT_REASON_DROP_UNTAGGED)) << other_port;
  EXPECT_EQ(other_port.retval, TC_ACT_SHOT);

  // The setting and the mode of the moment decide, each packet.
  change_settings([](datapath::EndpointSettings& s) { s.mode = datapath::Mode::Audit; });
  Outcome audited = enforce(in4().udp(53, kClientPort + 1).build(), 0);
  EXPECT_EQ(text(audited.reason), text(WT_REASON_DROP_UNTAGGED)) << audited;
  EXPECT_EQ(audited.verdict, WT_VERDICT_PASS) << audited;
  EXPECT_EQ(audited.retval, TC_ACT_OK);
  change_settings([](datapath::EndpointSettings& s) {
    s.mode = datapath::Mode::Enforce;
    s.allow_untagged = true;
  });
  Outcome allowed = enforce(in4().udp(53, kClientPort + 1).build(), 0);
  EXPECT_EQ(text(allowed.reason), text(WT_REASON_ALLOW_UNTAGGED)) << allowed;
  EXPECT_EQ(allowed.retval, TC_ACT_OK);
}

TEST_F(FastPath, ACachedDenialIsDroppedReportedAndAuditedLikeTheFirst) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{kPort, kPort}}}), "");
  std::vector<wt_event> events;
  auto subscribed = dp().on_event([&](const wt_event& e) { events.push_back(e); });
  ASSERT_TRUE(subscribed) << subscribed.error().message;
  auto drain = [&] {
    for (;;) {
      auto n = dp().poll_events(0);
      ASSERT_TRUE(n) << n.error().message;
      if (*n == 0) return;
    }
  };
  const auto denied = in4().udp(kClientPort, kPort + 1).payload(7).build();
  for (int i = 0; i < 3; ++i) {  // the first fills the cache, the others are answered from it
    Outcome o = enforce(denied);
    EXPECT_EQ(text(o.reason), text(WT_REASON_DROP_POLICY)) << o;
    EXPECT_EQ(o.verdict, WT_VERDICT_DROP) << o;
    EXPECT_EQ(o.retval, TC_ACT_SHOT);
  }
  drain();
  ASSERT_EQ(events.size(), 3u) << "one event per drop";
  for (const wt_event& e : events) {
    EXPECT_EQ(e.src_tag, kTag);
    EXPECT_EQ(e.direction, WT_DIR_ENFORCE);
    EXPECT_EQ(e.verdict, WT_VERDICT_DROP);
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, IPPROTO_UDP);
    EXPECT_EQ(e.len, denied.size());
    EXPECT_EQ(e.sport, htons(kClientPort));
    EXPECT_EQ(e.dport, htons(kPort + 1));
    EXPECT_EQ(e.saddr[0], 198);
    EXPECT_EQ(e.daddr[3], 2);
  }

  change_settings([](datapath::EndpointSettings& s) { s.mode = datapath::Mode::Audit; });
  events.clear();
  for (int i = 0; i < 3; ++i) {
    Outcome o = enforce(denied);
    EXPECT_EQ(text(o.reason), text(WT_REASON_DROP_POLICY)) << o;
    EXPECT_EQ(o.verdict, WT_VERDICT_PASS) << "audit: a would-drop passes " << o;
    EXPECT_EQ(o.retval, TC_ACT_OK);
  }
  drain();
  ASSERT_EQ(events.size(), 3u);
  for (const wt_event& e : events) EXPECT_EQ(e.mode, WT_MODE_AUDIT);

  Outcome untagged = enforce(in4().udp(kClientPort, kPort).build(), 0);
  EXPECT_EQ(text(untagged.reason), text(WT_REASON_ALLOW_UNTAGGED)) << untagged;
}

TEST_F(FastPath, IpOptionsAndExtensionHeadersTakeTheFullParse) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{kPort, kPort}}}), "");
  cache_allow(in4().udp(kClientPort, kPort).build());
  cache_allow(in6().udp(kClientPort, kPort).build());
  Outcome options = enforce(in4().ip_options({1, 1, 1, 1}).udp(kClientPort, kPort).build());
  EXPECT_EQ(text(options.reason), text(WT_REASON_ALLOW_RULE)) << options;
  Outcome hop = enforce(in6().ext_header(IPPROTO_HOPOPTS).udp(kClientPort, kPort).build());
  EXPECT_EQ(text(hop.reason), text(WT_REASON_ALLOW_RULE)) << hop;
  Outcome denied = enforce(in6().ext_header(IPPROTO_DSTOPTS).udp(kClientPort, kPort + 1).build());
  EXPECT_EQ(text(denied.reason), text(WT_REASON_DROP_POLICY)) << denied;
}

}  // namespace
}  // namespace wiretag::test
