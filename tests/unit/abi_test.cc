#include <gtest/gtest.h>

#include <set>
#include <string>

#include "datapath/datapath.h"
#include "wiretag/abi.h"

// The same checks as abi.h's static asserts, from C++'s side of the ABI, plus the names.
TEST(Abi, StructLayoutsMatchTheBpfSide) {
  EXPECT_EQ(sizeof(wt_endpoint), 32u);
  EXPECT_EQ(offsetof(wt_endpoint, ipv6), 12u);
  EXPECT_EQ(sizeof(wt_port_key), 12u);
  EXPECT_EQ(sizeof(wt_flow_key), 44u);
  EXPECT_EQ(offsetof(wt_event, saddr), 32u);
  EXPECT_EQ(sizeof(wt_event), 64u);
}

TEST(Abi, EveryReasonHasAUniqueName) {
  std::set<std::string> names;
  for (uint32_t r = 0; r < WT_REASON_MAX; ++r) {
    const char* n = wiretag::datapath::reason_name(r);
    ASSERT_NE(n, nullptr) << "reason " << r;
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_EQ(wiretag::datapath::reason_name(WT_REASON_MAX), nullptr);
}
