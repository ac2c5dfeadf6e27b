#include "server/system_api.h"

#include "http/log_level_route.h"

namespace wiretag {

void add_system_routes(http::Router& router, const Authenticator& auth) {
  auto admin_only = [&auth](const http::Request& req) -> Result<void> {
    WT_TRY(who, auth.authenticate(req));
    if (!who->admin) return Error{"FORBIDDEN", "the server's settings need network.admin"};
    return Ok();
  };
  // Refused before the body is read, and again by the handler (a gate only refuses earlier).
  router.admit({"/v1/system"}, admin_only);
  http::add_log_level_routes(router, admin_only);
}

}  // namespace wiretag
