#include "agent/plugin_access.h"

#include <cctype>

namespace wiretag::agent {

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (token.empty() || authorization.size() != kScheme.size() + token.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  // Constant time: the answer's timing says nothing about how much of a guess was right.
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(authorization[kScheme.size() + i] ^ token[i]);
  return diff == 0;
}

void require_bearer(http::Router& router, std::string token) {
  router.admit_by(
      {"/whitelist", "/v1/events", "/v1/trace"},
      [token = std::move(token)](const http::Request& head) -> Result<http::Reply> {
        if (bearer_matches(head.authorization, token)) {
          head.set_principal("plugin-token");
          return http::Reply{204, nullptr};
        }
        http::Reply refusal =
            http::error_reply(Error{"UNAUTHORIZED",
                                    "the Plugin API on TCP needs Authorization: Bearer <token> "
                                    "(--plugin-token-file)"});
        refusal.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"wiretag-agent\"");
        return refusal;
      });
}

}  // namespace wiretag::agent
