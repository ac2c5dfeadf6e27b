#include "server/onap_headers.h"

#include <algorithm>
#include <string>

#include "server/accounts_api.h"

namespace wiretag {
namespace {

bool printable_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::none_of(id.begin(), id.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
}

bool has_header(const http::Reply& reply, std::string_view name) {
  return std::any_of(reply.headers.begin(), reply.headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() &&
           std::equal(h.first.begin(), h.first.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  });
}

}  // namespace

void dress_with_onap_headers(http::Router& router,
                             std::initializer_list<std::string_view> prefixes) {
  router.dress(prefixes, [](const http::Request& head, http::Reply& reply) {
    // A handler that answered chose the request id (it may have refused the caller's).
    if (!has_header(reply, "x-onap-requestid")) {
      std::string id = head.header("x-onap-requestid");
      if (!printable_id(id)) id = head.query_value("requestID");
      if (!printable_id(id)) id = random_uuid();
      reply.headers.emplace_back("x-onap-requestid", id);
    }
    reply.headers.emplace_back("x-latestversion", "1.0.0");
    reply.headers.emplace_back("x-minorversion", "0");
    reply.headers.emplace_back("x-patchversion", "0");
  });
}

}  // namespace wiretag
