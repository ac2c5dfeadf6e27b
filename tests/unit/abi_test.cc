#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "datapath/datapath.h"
#include "wiretag/abi.h"

// The same checks as abi.h's static asserts, from C++'s side of the ABI, plus the names.
TEST(Abi, StructLayoutsMatchTheBpfSide) {
  EXPECT_EQ(sizeof(wt_endpoint), 32u);
  EXPECT_EQ(offsetof(wt_endpoint, ipv6), 12u);
  EXPECT_EQ(sizeof(wt_port_key), 12u);
  EXPECT_EQ(sizeof(wt_flow_key), 44u);
  EXPECT_EQ(offsetof(wt_event, saddr), 32u);
  EXPECT_EQ(sizeof(wt_event), 88u);
  EXPECT_EQ(offsetof(wt_event, outer_family), size_t{WT_EVENT_V1_SIZE});
  EXPECT_EQ(offsetof(wt_event, outer_saddr), 72u);
  EXPECT_EQ(sizeof(wt_ratelimit), 16u);
  EXPECT_EQ(offsetof(wt_ratelimit, suppressed), 12u);
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

TEST(Abi, EveryReasonAndVerdictHasItsOwnSlotCounterColumn) {
  std::vector<bool> used(WT_SLOT_COLUMNS);
  for (uint32_t reason = 0; reason < WT_SLOT_REASONS; ++reason)
    for (uint32_t verdict : {WT_VERDICT_PASS, WT_VERDICT_DROP}) {
      if (reason < WT_PASS_REASONS && verdict == WT_VERDICT_DROP) continue;
      uint32_t column = wt_slot_column(reason, verdict);
      ASSERT_LT(column, uint32_t{WT_SLOT_COLUMNS}) << wiretag::datapath::reason_name(reason);
      EXPECT_FALSE(used[column]) << wiretag::datapath::reason_name(reason) << " verdict "
                                 << verdict;
      used[column] = true;
    }
  EXPECT_EQ(std::count(used.begin(), used.end(), true), WT_SLOT_COLUMNS) << "no column unused";
}
