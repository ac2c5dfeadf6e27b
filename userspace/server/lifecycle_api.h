// The TOSCA policy lifecycle API (seed 002 §4.1-4.2, SPEC §4.5) under /policy/api/v1: policy
// types and policies in ONAP's paths and service-template bodies, JSON or YAML both ways
// (Content-Type, Accept). Auth: the PAP's basic auth, or a bearer token with network.admin.
// Every answer, errors included, carries x-onap-requestid and the x-*version headers.
#pragma once

#include "core/policy_types.h"
#include "core/tosca_policies.h"
#include "http/router.h"
#include "server/auth.h"
#include "server/pap_auth.h"

namespace wiretag {

inline constexpr std::string_view kLifecycleBase = "/policy/api/v1";

// All outlive the router.
void add_lifecycle_routes(http::Router& router, Store& store, Authenticator& auth,
                          const PapCredentials& credentials);

}  // namespace wiretag
