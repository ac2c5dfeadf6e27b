// Policy keys (issue 14 item 4): one canonical string per key, so any change of any character
// is refused; policies compressed so large ones fit a URL; keys issued before still open.
#include "server/policy_keys.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>

#include "temp_dir.h"

namespace wiretag {
namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// A key issued by the server before keys were compressed (format v1, at 5fe2a4e), with the
// secret of the data dir that issued it.
constexpr const char* kV1Secret =
    "b2ccee2442a232fc69053749e5aff5ab85b500e95e799320ecace1134272d4d4";
constexpr const char* kV1Key =
    "vSSSlVKJftygBJU2yyhhDLFVcw4bPetXacmtRTW-4yYWNXXSJCwEaARsyoPFqHrjdABB"
    "JSRSoOLmmkBtZ_vUu5Rourn5a_5ibp0DpsFK-w_sb-_zutX5_964FclfUAwMNjiJ3uUG"
    "Bz5LWcFN32K8GI2XLHZkvU2vZO43cGXIF1JJsqkpjW0RKVG1UgNRqmpoBhzkzsKxTTtE";
constexpr const char* kV1Policy =
    R"({"name":"legacy","refid":"old-1","rules":[{"destination":"b","ports":{"end":443,"start":443},"protocol":"tcp","source":"a"}]})";

PolicyKeySealer sealer(const test::TempDir& dir) {
  auto s = PolicyKeySealer::open(dir.path());
  EXPECT_TRUE(s) << s.error().message;
  return std::move(*s);
}

void expect_invalid(const PolicyKeySealer& keys, const std::string& key, const std::string& why) {
  auto r = keys.open_key("acme", key);
  ASSERT_FALSE(r) << why << ": " << key << " opened";
  EXPECT_EQ(r.error().code, "INVALID_POLICY_KEY") << why;
}

// Keys whose lengths cover every residue mod 4 that base64url can issue (0, 2, 3).
std::map<size_t, std::string> keys_of_each_length(const PolicyKeySealer& keys) {
  std::map<size_t, std::string> out;
  for (int n = 1; out.size() < 3 && n < 200; ++n) {
    auto key =
        keys.seal("acme", json{{"name", std::string(n, 'x')}, {"rules", json::array()}}.dump());
    EXPECT_TRUE(key);
    out.emplace(key->size() % 4, *key);
  }
  return out;
}

TEST(PolicyKey, EveryCharacterOfAKeyReplacedByAnyOtherIsInvalid) {
  test::TempDir dir;
  const PolicyKeySealer keys = sealer(dir);
  const auto issued = keys_of_each_length(keys);
  ASSERT_EQ(issued.size(), 3u) << "lengths 0, 2 and 3 mod 4";
  for (const auto& [residue, key] : issued) {
    ASSERT_TRUE(keys.open_key("acme", key)) << key;
    for (size_t i = 0; i < key.size(); ++i) {
      for (char c : kAlphabet) {
        if (c == key[i]) continue;
        std::string tampered = key;
        tampered[i] = c;
        expect_invalid(
            keys, tampered,
            "position " + std::to_string(i) + " mod " + std::to_string(residue) + " → " + c);
      }
      for (char c : {'=', '+', '/', '.', ' ', '%', '\0', '\xc3'}) {
        std::string tampered = key;
        tampered[i] = c;
        expect_invalid(keys, tampered, "outside the alphabet at " + std::to_string(i));
      }
    }
    // Lengths 1 mod 4 (and every other) by a character added or removed, and padding.
    expect_invalid(keys, key + "A", "one more character");
    expect_invalid(keys, key.substr(0, key.size() - 1), "one character less");
    expect_invalid(keys, key + "=", "padding");
    expect_invalid(keys, key + "==", "padding");
  }
  expect_invalid(keys, "", "empty");
  expect_invalid(keys, "A", "one character");
}

TEST(PolicyKey, UnusedLowBitsOfTheLastCharacterMustBeZero) {
  test::TempDir dir;
  const PolicyKeySealer keys = sealer(dir);
  for (const auto& [residue, key] : keys_of_each_length(keys)) {
    if (residue == 0) continue;  // no unused bits
    const int unused = residue == 2 ? 4 : 2;
    const size_t last = kAlphabet.find(key.back());
    ASSERT_EQ(last & ((1u << unused) - 1), 0u) << "issued keys are canonical";
    for (unsigned low = 1; low < (1u << unused); ++low) {
      std::string tampered = key;
      tampered.back() = kAlphabet[last | low];
      expect_invalid(keys, tampered, "low bits " + std::to_string(low));
    }
  }
}

TEST(PolicyKey, AKeyFromBeforeCompressionStillOpens) {
  test::TempDir dir;
  std::ofstream(dir.path() / "policy-key-secret") << kV1Secret << "\n";
  const PolicyKeySealer keys = sealer(dir);
  auto plain = keys.open_key("acme", kV1Key);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(json::parse(*plain), json::parse(kV1Policy));
  EXPECT_FALSE(keys.open_key("other", kV1Key)) << "still bound to its account";
  std::string tampered = kV1Key;
  tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(keys.open_key("acme", tampered));
}

TEST(PolicyKey, ALargePolicyIsCompressedAndAnIncompressibleOneRefused) {
  test::TempDir dir;
  const PolicyKeySealer keys = sealer(dir);
  json rules = json::array();
  for (int i = 0; i < 1000; ++i)
    rules.push_back({{"source", "app-" + std::to_string(i)},
                     {"destination", "web"},
                     {"protocol", "tcp"},
                     {"ports", {{"start", 443}, {"end", 443}}}});
  const std::string policy = json{{"name", "big"}, {"rules", rules}}.dump();
  auto key = keys.seal("acme", policy);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_LT(key->size(), policy.size() / 4) << "compressed";
  EXPECT_EQ(*keys.open_key("acme", *key), policy);

  std::mt19937_64 rng(14);
  std::string noise;
  while (noise.size() < 200000) noise += std::to_string(rng());  // ~83 KB of entropy
  auto refused = keys.seal("acme", noise);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "POLICY_TOO_LARGE_FOR_KEY");
  EXPECT_NE(refused.error().message.find("60000"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace wiretag
