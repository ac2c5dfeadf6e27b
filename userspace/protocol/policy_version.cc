#include "protocol/policy_version.h"

namespace wiretag::protocol {

std::optional<int64_t> policy_version_number(std::string_view v) {
  std::string_view major = v;
  if (v.size() > 4 && v.ends_with(".0.0")) major = v.substr(0, v.size() - 4);
  if (major.empty() || major.size() > 15 || major.front() == '0' ||
      major.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  int64_t n = 0;
  for (char c : major) n = n * 10 + (c - '0');
  return n;
}

std::string normalize_version(std::string_view v) {
  if (auto n = policy_version_number(v)) return std::to_string(*n) + ".0.0";
  return std::string(v);
}

bool same_version(const PolicyVersion& a, const PolicyVersion& b) {
  return a.name == b.name && normalize_version(a.version) == normalize_version(b.version);
}

}  // namespace wiretag::protocol
