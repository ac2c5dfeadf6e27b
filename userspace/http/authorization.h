// The Authorization header (RFC 9110 §11): "<scheme> <credentials>", the scheme
// case-insensitive ("Bearer", "bearer", "BEARER" are one scheme).
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

namespace wiretag::http {

// What a 401 of a bearer-token API challenges with (a basic-auth API sets its own).
inline constexpr std::string_view kBearerChallenge = "Bearer realm=\"wiretag\"";

// The credentials after `scheme` and one or more spaces, if the header uses that scheme and
// carries some; nullopt otherwise.
inline std::optional<std::string_view> credentials_for(std::string_view header,
                                                       std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    char s = scheme[i];
    if (s >= 'A' && s <= 'Z') s = static_cast<char>(s - 'A' + 'a');
    if (c != s) return std::nullopt;
  }
  std::string_view rest = header.substr(scheme.size());
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

}  // namespace wiretag::http
