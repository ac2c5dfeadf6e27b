// The server's own settings at run time (/v1/system/…): its log level, admin bearer only.
#pragma once

#include "http/router.h"
#include "server/auth.h"

namespace wiretag {

void add_system_routes(http::Router& router, const Authenticator& auth);

}  // namespace wiretag
