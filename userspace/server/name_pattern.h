// ONAP's `?regex=` of the PAP's status queries: a pattern the whole policy name must match
// (Java's Pattern.matcher(name).matches()), compiled with RE2, whose matching takes time
// linear in the name whatever the pattern (no backtracking blow-up from a caller's regex).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace re2 {
class RE2;
}

namespace wiretag {

class NamePattern {
 public:
  static constexpr size_t kMaxPatternBytes = 1024;
  // INVALID_REGEX for an empty or blank pattern (ONAP refuses those too), one RE2 cannot
  // compile (the message says why), or one longer than kMaxPatternBytes.
  static Result<NamePattern> compile(std::string_view pattern);
  bool matches(std::string_view name) const;  // the whole name

 private:
  explicit NamePattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace wiretag
