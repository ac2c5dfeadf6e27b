// Issue 14 item 8, end to end: the path is split at '/' before each segment is decoded, so an
// encoded '/' cannot reach another route ("/app/db%2Fwhitelist" is not db's whitelist) and
// "//" is an empty segment that matches nothing.
#include <gtest/gtest.h>

#include <string>

#include "server_process.h"

namespace wiretag::test {
namespace {

class PathSegments : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    ASSERT_EQ(s().post("/app", R"({"guid":"db"})").status, 201);
    ASSERT_EQ(s().post("/app", R"({"guid":"web"})").status, 201);
    ASSERT_EQ(s().post("/whitelist", R"({"source":"web","destination":"db"})").status, 201);
  }
};

TEST_F(PathSegments, AnEncodedSlashStaysInItsSegmentAndIsNoGuid) {
  for (const char* method : {"GET", "DELETE"}) {
    SCOPED_TRACE(method);
    auto r = s().request(method, "/app/db%2Fwhitelist");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.error_code(), "INVALID_GUID") << r.body;
  }
  auto r = s().get("/app/db%2fwhitelist?detail=rules");
  EXPECT_EQ(r.error_code(), "INVALID_GUID") << r.body;
  // Nor does it reach a route one segment longer elsewhere.
  r = s().get("/v1/accounts/default%2Fpolicies");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.error_code(), "ROUTE_NOT_FOUND");
  // db is untouched and its whitelist answers on its own path, encoded or not.
  EXPECT_EQ(s().get("/app/db").status, 200);
  EXPECT_EQ(s().get("/app/db/whitelist").json()["allowed_wire_bytes"].size(), 1u);
  EXPECT_EQ(s().get("/app/%64b/whitelist").json()["allowed_wire_bytes"].size(), 1u);
}

TEST_F(PathSegments, AnEmptySegmentMatchesNoRoute) {
  for (const char* target : {"//app/db/whitelist", "/app//db/whitelist", "/app/db//whitelist",
                             "/app/db/whitelist/", "//apps", "/app//whitelist", "//healthz"}) {
    SCOPED_TRACE(target);
    auto r = s().get(target);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.error_code(), "ROUTE_NOT_FOUND") << r.body;
  }
  auto r = s().request("DELETE", "//app/db");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(s().get("/app/db").status, 200) << "still there";
}

}  // namespace
}  // namespace wiretag::test
