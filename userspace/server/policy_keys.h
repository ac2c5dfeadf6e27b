// Policy keys (seed 003): a policy sealed with AES-256-GCM under the server's secret and
// bound to its account, so a key is useless in another account and any change is detected.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

class PolicyKeySealer {
 public:
  // The longest key issued or opened: a GET …/policy_keys/<key> line must fit the 64 KiB
  // header limit with room for the other headers.
  static constexpr size_t kMaxKeyChars = 60000;

  // Reads <data_dir>/policy-key-secret, creating it (32 random bytes, hex, mode 0600) on
  // first start. Servers that share the file accept each other's keys.
  static Result<PolicyKeySealer> open(const std::filesystem::path& data_dir);
  // Reads the secret from `file` (64 hex digits), which must exist: several servers on one
  // database are given the same file (--policy-key-file).
  static Result<PolicyKeySealer> open_file(const std::filesystem::path& file);

  // Canonical unpadded base64url(2 || nonce || ciphertext || tag) of the zlib-compressed
  // plaintext, the format and account as associated data. POLICY_TOO_LARGE_FOR_KEY when the
  // key would be longer than kMaxKeyChars.
  Result<std::string> seal(std::string_view account, std::string_view plaintext) const;
  // INVALID_POLICY_KEY for garbage, a non-canonical encoding, a tampered key or another
  // account's key. Keys of format v1 (base64url(nonce || ciphertext || tag), uncompressed,
  // issued before v2) still open.
  Result<std::string> open_key(std::string_view account, std::string_view key) const;

 private:
  explicit PolicyKeySealer(std::array<unsigned char, 32> secret) : secret_(secret) {}
  std::array<unsigned char, 32> secret_;
};

}  // namespace wiretag
