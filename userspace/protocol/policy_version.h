// A policy version as the PAP names it, on both sides of the wire: "default-whitelist"
// 1.0.0, or a named policy's id with version "N.0.0" (PDP_STATUS `policies`, the assignment,
// pdp.update events). One definition for the server's domain and the agent.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wiretag::protocol {

struct PolicyVersion {
  std::string name;
  std::string version;
  friend bool operator==(const PolicyVersion&, const PolicyVersion&) = default;
  friend auto operator<=>(const PolicyVersion&, const PolicyVersion&) = default;
};

// N of "N" or "N.0.0", N = 1, 2, … written without leading zeros (at most 15 digits);
// nullopt for anything else: "03", "0", "3.1.0", "".
std::optional<int64_t> policy_version_number(std::string_view version);
// "N.0.0" for a version policy_version_number() reads; anything else unchanged ("03" stays
// "03" and so names no version N).
std::string normalize_version(std::string_view version);
// Same name, and versions equal once normalized: "3" is "3.0.0"; "03" is neither.
bool same_version(const PolicyVersion& a, const PolicyVersion& b);

}  // namespace wiretag::protocol
