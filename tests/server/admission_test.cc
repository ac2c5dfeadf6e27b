// Router admission as a pure function: which gates cover which paths, and what a refusal is.
#include <gtest/gtest.h>

#include "http/router.h"

namespace wiretag::http {
namespace {

Result<std::string> bearer_only(const Request& head) {
  if (head.authorization != "Bearer good") return Error{"UNAUTHORIZED", "no"};
  return std::string("someone");
}

Request head(std::string path, std::string authorization = "") {
  Request q;
  q.method = Method::Post;
  q.path = std::move(path);
  q.authorization = std::move(authorization);
  return q;
}

TEST(Admission, GatesCoverTheirPrefixSegmentBySegment) {
  Router r;
  r.admit({"/app", "/v1/accounts/:account/policies"}, bearer_only);
  for (const char* path : {"/app", "/app/x/whitelist", "//app", "/v1/accounts/acme/policies",
                           "/v1/accounts/acme/policies/p1"}) {
    auto refusal = r.admission(head(path));
    ASSERT_TRUE(refusal) << path;
    EXPECT_EQ(refusal->status, 401u) << path;
    EXPECT_EQ(refusal->body[0]["error_code"], "UNAUTHORIZED");
    EXPECT_FALSE(r.admission(head(path, "Bearer good"))) << path;
  }
  for (const char* path : {"/apps", "/application", "/healthz", "/v1/accounts/acme", "/"})
    EXPECT_FALSE(r.admission(head(path))) << path;
}

TEST(Admission, EveryCoveringGateMustAdmit) {
  Router r;
  r.admit({"/internal"}, bearer_only);
  r.admit({"/internal/v1"}, [](const Request& q) -> Result<void> {
    if (q.header("x-cell").empty()) return Error{"FORBIDDEN", "cells only"};
    return Ok();
  });
  Request q = head("/internal/v1/watch", "Bearer good");
  ASSERT_TRUE(r.admission(q));
  EXPECT_EQ(r.admission(q)->status, 403u);
  q.headers["x-cell"] = "c1";
  EXPECT_FALSE(r.admission(q));
}

TEST(Admission, AGateHandlerDressesItsOwnRefusal) {
  Router r;
  r.admit_by({"/policy/pap/v1"}, [](const Request& q) -> Result<Reply> {
    if (q.authorization.empty()) {
      Error e{"UNAUTHORIZED", "basic auth"};
      e.challenge = "Basic realm=\"x\"";
      return error_reply(e);
    }
    return Reply{204, nullptr};
  });
  auto refusal = r.admission(head("/policy/pap/v1/pdps"));
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 401u);
  ASSERT_EQ(refusal->headers.size(), 1u);
  EXPECT_EQ(refusal->headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(refusal->headers[0].second, "Basic realm=\"x\"");
  EXPECT_FALSE(r.admission(head("/policy/pap/v1/pdps", "Basic YTpi")));
}

}  // namespace
}  // namespace wiretag::http
