// The policy graph's rules over the domain's ports in memory (core/testing/memory_store.h):
// the domain alone, no store backend, no files. The cases are domain_cases.inc, which
// server_unit_tests runs again on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/policy_graph.h"
#include "core/tag_space.h"
#include "core/testing/memory_store.h"

namespace wiretag {
namespace {

TEST(TagSpace, RendersExactlyTwoHexDigitsPerByte) {
  EXPECT_EQ(TagSpace::make(2)->wire_bytes(0xa7e0), "a7e0");
  EXPECT_EQ(TagSpace::make(4)->wire_bytes(0xa7e0cd35), "a7e0cd35");
  EXPECT_EQ(TagSpace::make(1)->wire_bytes(5), "05");
  EXPECT_EQ(TagSpace::make(3)->wire_bytes(1), "000001");
  EXPECT_EQ(TagSpace::make(2)->parse("a7e0"), 0xa7e0u);
  EXPECT_FALSE(TagSpace::make(2)->parse("A7E0"));
  EXPECT_FALSE(TagSpace::make(2)->parse("a7e"));
}

TEST(TagSpace, LengthIsOneToFourBytes) {
  EXPECT_EQ(TagSpace::make(0).error().code, "INVALID_TAG_LENGTH");
  EXPECT_EQ(TagSpace::make(5).error().code, "INVALID_TAG_LENGTH");
  EXPECT_EQ(TagSpace::make(1)->max_tag(), 255u);
  EXPECT_EQ(TagSpace::make(4)->max_tag(), 0xffffffffu);
}

TEST(AppGuid, AcceptsOneTo128OfTheAlphabet) {
  EXPECT_TRUE(is_valid_app_guid("db8e8142-3d4e-413f-99ef-f2a9f644e1b1"));
  EXPECT_TRUE(is_valid_app_guid("a.b_c:d-E9"));
  EXPECT_TRUE(is_valid_app_guid(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_app_guid(""));
  EXPECT_FALSE(is_valid_app_guid(std::string(129, 'x')));
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a/b", "*", "a\"b", "é", std::string("a\0b", 3)})
    EXPECT_FALSE(is_valid_app_guid(bad)) << bad;
}

#include "domain_cases.inc"

// In memory: the first open of a data name makes its store, every later one another store
// sharing its data (MemoryStore::sharing).
class MemorySource : public StoreSource {
 public:
  Result<std::unique_ptr<Store>> open(const std::string& data) override {
    std::unique_ptr<MemoryStore>& first = data_[data];
    if (!first) first = std::make_unique<MemoryStore>();
    return std::unique_ptr<Store>(MemoryStore::sharing(*first));
  }

 private:
  std::map<std::string, std::unique_ptr<MemoryStore>> data_;
};

std::unique_ptr<StoreSource> make_store_source(const std::string&) {
  return std::make_unique<MemorySource>();
}

INSTANTIATE_TEST_SUITE_P(InMemory, Graph, ::testing::Values("Memory"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(InMemory, WhitelistIndexOn, ::testing::Values("Memory"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace wiretag
