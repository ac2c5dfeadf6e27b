// ONAP's headers on every answer of the APIs that come from ONAP (seed 004 and 002; SPEC §4.4):
// x-onap-requestid (the caller's, else a new UUID), x-latestversion, x-minorversion and
// x-patchversion, on every answer under their paths: the handlers' (which pick the request
// id themselves), the router's 404 and 405, a bad path, the server's refusal of an oversized
// body or an unknown transfer coding.
#pragma once

#include <initializer_list>
#include <string_view>

#include "http/router.h"

namespace wiretag {

void dress_with_onap_headers(http::Router& router,
                             std::initializer_list<std::string_view> prefixes);

}  // namespace wiretag
