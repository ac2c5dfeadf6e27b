// What an error means to the code that handles it. An Error's code is the stable name that
// clients see; code that must react to an error (retry, pass it through, forget a device,
// stop) branches on its kind, never on the code's text. Which codes are of which kind is said
// here once, as userspace/http/errors.cc is the one place that maps a code to an HTTP status.
#pragma once

#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

enum class ErrorKind {
  Other,
  Cancelled,         // CANCELLED: this process stopped the operation (cancel(), shutdown)
  ConnectionClosed,  // CONNECTION_CLOSED: the peer closed a kept-alive connection
  NotFound,          // a named thing does not exist: APP_NOT_FOUND, SERVICE_NOT_FOUND, …
  Gone,              // DEVICE_NOT_FOUND, NETNS_NOT_FOUND: a device or namespace vanished
  CellUnavailable,   // CELL_UNREACHABLE, CELL_NOT_FOUND: no cell to ask (yet)
  Busy,              // SERVER_BUSY: past a capacity cap; try again
  Upstream,          // SERVER_ERROR, INVALID_RESPONSE: the server asked answered wrongly
  InvalidJson,       // INVALID_JSON: the text is not JSON at all
  InvalidTrace,      // INVALID_TRACE: a trace request that cannot be run
  Configuration,     // DB_URL_INVALID, DB_UNREACHABLE: started with settings it cannot run
                     // with (a server exits 2, as for a bad flag)
  Forbidden,         // FORBIDDEN: a valid credential that may not do this here
};

inline ErrorKind error_kind(std::string_view code) {
  struct Entry {
    std::string_view code;
    ErrorKind kind;
  };
  static constexpr Entry kKinds[] = {
      {"CANCELLED", ErrorKind::Cancelled},
      {"CONNECTION_CLOSED", ErrorKind::ConnectionClosed},
      {"DEVICE_NOT_FOUND", ErrorKind::Gone},
      {"NETNS_NOT_FOUND", ErrorKind::Gone},
      {"CELL_UNREACHABLE", ErrorKind::CellUnavailable},
      {"CELL_NOT_FOUND", ErrorKind::CellUnavailable},
      {"SERVER_BUSY", ErrorKind::Busy},
      {"SERVER_ERROR", ErrorKind::Upstream},
      {"INVALID_RESPONSE", ErrorKind::Upstream},
      {"INVALID_JSON", ErrorKind::InvalidJson},
      {"INVALID_TRACE", ErrorKind::InvalidTrace},
      {"DB_URL_INVALID", ErrorKind::Configuration},
      {"DB_UNREACHABLE", ErrorKind::Configuration},
      {"FORBIDDEN", ErrorKind::Forbidden},
  };
  for (const Entry& e : kKinds)
    if (e.code == code) return e.kind;
  if (code.ends_with("_NOT_FOUND")) return ErrorKind::NotFound;
  return ErrorKind::Other;
}

inline ErrorKind error_kind(const Error& e) { return error_kind(e.code); }

inline bool is(const Error& e, ErrorKind kind) { return error_kind(e) == kind; }

}  // namespace wiretag
