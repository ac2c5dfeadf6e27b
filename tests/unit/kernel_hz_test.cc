// CONFIG_HZ, which the flow cache's timeouts are converted with.
#include "datapath/kernel_hz.h"

#include <gtest/gtest.h>

namespace wiretag::datapath {
namespace {

TEST(KernelHz, ConfigLineIsParsed) {
  EXPECT_EQ(parse_config_hz("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n"), 250u);
  EXPECT_EQ(parse_config_hz("CONFIG_HZ_PERIODIC=y\nCONFIG_HZ=1000"), 1000u);
}

TEST(KernelHz, ConfigWithoutAUsableLineGivesZero) {
  EXPECT_EQ(parse_config_hz(""), 0u);
  EXPECT_EQ(parse_config_hz("CONFIG_HZ_250=y\n"), 0u) << "the choice alone is not the value";
  EXPECT_EQ(parse_config_hz("CONFIG_HZ=\n"), 0u);
  EXPECT_EQ(parse_config_hz("CONFIG_HZ=abc\n"), 0u);
  EXPECT_EQ(parse_config_hz("CONFIG_HZ=-5\n"), 0u);
  EXPECT_EQ(parse_config_hz("CONFIG_HZ=99999999\n"), 0u);
}

TEST(KernelHz, TimeoutsRoundUpToWholeJiffies) {
  EXPECT_EQ(ns_to_jiffies(7200ull * 1000000000ull, 250), 7200ull * 250);
  EXPECT_EQ(ns_to_jiffies(1000000000ull, 1000), 1000u);
  EXPECT_EQ(ns_to_jiffies(1, 250), 1u) << "never shorter than asked";
  EXPECT_EQ(ns_to_jiffies(4000001, 250), 2u);
  EXPECT_EQ(ns_to_jiffies(0, 300), 0u);
}

TEST(KernelHz, ThisKernelHasARateKernelsAreBuiltWith) {
  auto hz = kernel_hz();
  ASSERT_TRUE(hz) << hz.error().message;
  EXPECT_TRUE(*hz == 100 || *hz == 250 || *hz == 300 || *hz == 1000) << *hz;
}

}  // namespace
}  // namespace wiretag::datapath
