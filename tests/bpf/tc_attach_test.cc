// How the programs attach to an endpoint's device (datapath/tc_attach.h): TCX links pinned in
// <pin_dir>/links where the kernel has TCX, clsact filters otherwise; enforcement outlives the
// owner, a new owner swaps its programs into the same attachment, and switching between the
// two leaves exactly one. Each test asks the kernel what is attached (BPF_PROG_QUERY for TCX,
// a tc filter query for clsact).
#include "datapath/tc_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "datapath/datapath.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

constexpr int kTcxIngress = 46;  // BPF_TCX_INGRESS (Linux >= 6.6; not in the 6.1 headers)
constexpr int kTcxEgress = 47;

uint32_t prog_id(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return 0;
  return info.id;
}

// Program ids attached to ifindex with TCX in one direction, in order.
std::vector<uint32_t> tcx_progs(uint32_t ifindex, bool ingress) {
  uint32_t ids[8] = {}, count = 8, flags = 0;
  if (bpf_prog_query(static_cast<int>(ifindex),
                     static_cast<bpf_attach_type>(ingress ? kTcxIngress : kTcxEgress), 0, &flags,
                     ids, &count) != 0)
    return {};
  return {ids, ids + count};
}

// The program id of our clsact filter (handle 0x7774, priority 1), 0 if there is none.
uint32_t clsact_prog(uint32_t ifindex, bool ingress) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
              .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x7774, .priority = 1);
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

class TcAttach : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0);  // the test process stays in its own namespace
    ASSERT_EQ(std::system("ip link add wttcx0 type veth peer name wttcx0p"), 0);
    ifindex_ = if_nametoindex("wttcx0");
    ASSERT_NE(ifindex_, 0u);
    pin_dir_ = "/sys/fs/bpf/wiretag-tc-attach-test-" + std::to_string(getpid());
  }
  void TearDown() override {
    dp_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_, ec);  // unpins, so the links detach
  }
  datapath::Options options(datapath::Options::Hook hook, bool pinned = true) {
    auto o = test_options();
    o.pin_dir = pinned ? pin_dir_ : "";
    o.max_endpoints = 4;
    o.hook = hook;
    return o;
  }
  void open_and_attach(const datapath::Options& o) {
    dp_.reset();  // releases the owner lock
    auto dp = datapath::Datapath::open(o);
    ASSERT_TRUE(dp) << dp.error().code << ": " << dp.error().message;
    dp_ = std::move(*dp);
    datapath::EndpointSettings s;
    s.tag = 7;
    auto r = dp_->attach({"", "wttcx0"}, s);
    ASSERT_TRUE(r) << r.error().code << ": " << r.error().message;
  }
  std::string link_pin(bool ingress) const {
    return pin_dir_ + "/links/" + std::to_string(ifindex_) + (ingress ? "_ingress" : "_egress");
  }

  uint32_t ifindex_ = 0;
  std::string pin_dir_;
  std::unique_ptr<datapath::Datapath> dp_;
};

TEST_F(TcAttach, APinnedOwnerUsesTcxLinksThatKeepEnforcingAfterItAndAreTakenOverInPlace) {
  if (!datapath::tcx_supported()) GTEST_SKIP() << "kernel without TCX (< 6.6)";
  open_and_attach(options(datapath::Options::Hook::Auto));
  EXPECT_EQ(dp_->tc_hook(), datapath::TcHook::Tcx);
  const uint32_t stamp = prog_id(dp_->stamp_prog_fd()), enforce = prog_id(dp_->enforce_prog_fd());
  EXPECT_EQ(tcx_progs(ifindex_, true), std::vector<uint32_t>{stamp});
  EXPECT_EQ(tcx_progs(ifindex_, false), std::vector<uint32_t>{enforce});
  EXPECT_EQ(clsact_prog(ifindex_, true), 0u);
  EXPECT_EQ(clsact_prog(ifindex_, false), 0u);
  EXPECT_TRUE(std::filesystem::exists(link_pin(true)));
  EXPECT_TRUE(std::filesystem::exists(link_pin(false)));

  dp_.reset();  // the owner exits: the pinned links keep its programs attached
  EXPECT_EQ(tcx_progs(ifindex_, true), std::vector<uint32_t>{stamp});
  EXPECT_EQ(tcx_progs(ifindex_, false), std::vector<uint32_t>{enforce});

  // A new owner adopts: its programs replace the old ones in the same links (no second link).
  auto dp = datapath::Datapath::open(options(datapath::Options::Hook::Auto));
  ASSERT_TRUE(dp) << dp.error().message;
  dp_ = std::move(*dp);
  EXPECT_EQ(tcx_progs(ifindex_, true), std::vector<uint32_t>{prog_id(dp_->stamp_prog_fd())});
  EXPECT_EQ(tcx_progs(ifindex_, false), std::vector<uint32_t>{prog_id(dp_->enforce_prog_fd())});
  EXPECT_NE(prog_id(dp_->stamp_prog_fd()), stamp);
}

TEST_F(TcAttach, DetachRemovesTheLinksAndTheirPins) {
  if (!datapath::tcx_supported()) GTEST_SKIP() << "kernel without TCX (< 6.6)";
  open_and_attach(options(datapath::Options::Hook::Auto));
  ASSERT_EQ(tcx_progs(ifindex_, false).size(), 1u);
  ASSERT_TRUE(dp_->detach({"", "wttcx0"}));
  EXPECT_TRUE(tcx_progs(ifindex_, true).empty());
  EXPECT_TRUE(tcx_progs(ifindex_, false).empty());
  EXPECT_FALSE(std::filesystem::exists(link_pin(true)));
  EXPECT_FALSE(std::filesystem::exists(link_pin(false)));
}

TEST_F(TcAttach, AForgottenDeviceThatIsGoneLeavesNoPinAndOneStillThereKeepsItsLinks) {
  if (!datapath::tcx_supported()) GTEST_SKIP() << "kernel without TCX (< 6.6)";
  open_and_attach(options(datapath::Options::Hook::Auto));
  ASSERT_TRUE(dp_->forget(ifindex_));  // the device is still there: enforcement stays
  EXPECT_EQ(tcx_progs(ifindex_, false).size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(link_pin(false)));
  open_and_attach(options(datapath::Options::Hook::Auto));
  ASSERT_EQ(std::system("ip link del wttcx0"), 0);
  ASSERT_TRUE(dp_->forget(ifindex_));
  EXPECT_FALSE(std::filesystem::exists(link_pin(true)));
  EXPECT_FALSE(std::filesystem::exists(link_pin(false)));
}

TEST_F(TcAttach, WithoutAPinDirOrWhenAskedTheProgramsAreClsactFilters) {
  for (bool pinned : {false, true}) {
    SCOPED_TRACE(pinned ? "pinned, hook clsact" : "no pin dir, hook auto");
    open_and_attach(
        options(pinned ? datapath::Options::Hook::Clsact : datapath::Options::Hook::Auto, pinned));
    EXPECT_EQ(dp_->tc_hook(), datapath::TcHook::Clsact);
    EXPECT_EQ(clsact_prog(ifindex_, true), prog_id(dp_->stamp_prog_fd()));
    EXPECT_EQ(clsact_prog(ifindex_, false), prog_id(dp_->enforce_prog_fd()));
    if (datapath::tcx_supported()) {
      EXPECT_TRUE(tcx_progs(ifindex_, true).empty());
      EXPECT_TRUE(tcx_progs(ifindex_, false).empty());
    }
    dp_.reset();  // a clsact filter outlives its owner too
    EXPECT_NE(clsact_prog(ifindex_, false), 0u);
  }
}

TEST_F(TcAttach, SwitchingBetweenClsactAndTcxLeavesExactlyOneAttachment) {
  if (!datapath::tcx_supported()) GTEST_SKIP() << "kernel without TCX (< 6.6)";
  open_and_attach(options(datapath::Options::Hook::Clsact));  // an owner of an older build
  ASSERT_NE(clsact_prog(ifindex_, false), 0u);

  open_and_attach(options(datapath::Options::Hook::Auto));  // adopts with TCX
  EXPECT_EQ(tcx_progs(ifindex_, false), std::vector<uint32_t>{prog_id(dp_->enforce_prog_fd())});
  EXPECT_EQ(clsact_prog(ifindex_, true), 0u);
  EXPECT_EQ(clsact_prog(ifindex_, false), 0u);

  open_and_attach(options(datapath::Options::Hook::Clsact));  // and back: the fallback
  EXPECT_EQ(clsact_prog(ifindex_, false), prog_id(dp_->enforce_prog_fd()));
  EXPECT_TRUE(tcx_progs(ifindex_, true).empty());
  EXPECT_TRUE(tcx_progs(ifindex_, false).empty());
  EXPECT_FALSE(std::filesystem::exists(link_pin(false)));
}

}  // namespace
}  // namespace wiretag::test
