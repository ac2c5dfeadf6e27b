// The PAP API (SPEC §4.4, seed 004) under /policy/pap/v1: groups, deployments, status,
// audit, health and statistics, in ONAP's JSON shapes, behind HTTP basic auth. Every answer,
// errors included, carries x-onap-requestid, x-latestversion, x-minorversion, x-patchversion.
#pragma once

#include "core/pap.h"
#include "http/router.h"
#include "server/pap_auth.h"

namespace wiretag {

inline constexpr std::string_view kPapBase = "/policy/pap/v1";

// Both outlive the router.
void add_pap_routes(http::Router& router, Pap& pap, const PapCredentials& credentials);

}  // namespace wiretag
