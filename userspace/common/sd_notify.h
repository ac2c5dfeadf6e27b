// The systemd notification protocol (sd_notify(3)) without libsystemd: one datagram of
// "KEY=VALUE" lines to the unix socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace). Type=notify units use it: READY=1 once the service does its job.
#pragma once

#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

// Sends `state` (e.g. "READY=1\nSTATUS=listening on 127.0.0.1:4002"). true: sent; false:
// $NOTIFY_SOCKET is unset (not run by systemd; nothing to do); an error (NOTIFY_FAILED) when
// the socket cannot be reached.
Result<bool> sd_notify(std::string_view state);

}  // namespace wiretag
