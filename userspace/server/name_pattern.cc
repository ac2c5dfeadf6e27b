#include "server/name_pattern.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace wiretag {

Result<NamePattern> NamePattern::compile(std::string_view pattern) {
  if (std::all_of(pattern.begin(), pattern.end(),
                  [](unsigned char c) { return std::isspace(c) != 0; }))
    return Error{"INVALID_REGEX", "an empty string passed as a regex is not allowed"};
  if (pattern.size() > kMaxPatternBytes)
    return Error{"INVALID_REGEX",
                 "regex is longer than " + std::to_string(kMaxPatternBytes) + " bytes"};
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(1 << 20);  // a pattern RE2 would need more for is refused
  auto re =
      std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) return Error{"INVALID_REGEX", "regex does not compile: " + re->error()};
  return NamePattern(std::move(re));
}

bool NamePattern::matches(std::string_view name) const {
  return RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *re_);
}

}  // namespace wiretag
