// The web view's static route (server/ui_files.*): files by type, the security headers,
// traversal refused, 404s; through the router, as the server dispatches them.
#include "server/ui_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "http/router.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string header(const http::Reply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

std::string body(const http::Reply& r) { return r.serialized ? *r.serialized : r.body.dump(); }

std::string error_code(const http::Reply& r) {
  return r.body.is_array() && !r.body.empty() ? r.body[0].value("error_code", "") : "";
}

class UiFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "ui";
    write(root_ / "index.html", "<!doctype html><title>wiretag</title>");
    write(root_ / "app.js", "'use strict';");
    write(root_ / "style.css", "body{}");
    write(root_ / "vendor" / "lib.js", "var lib;");
    write(root_ / ".hidden.txt", "hidden");
    write(root_ / "notes.md", "not a served type");
    write(dir_.path() / "secret.txt", "outside the root");
    fs::create_directories(root_ / "sub.js");  // a directory with a served extension
    fs::create_symlink(dir_.path() / "secret.txt", root_ / "escape.txt");
    fs::create_symlink(root_ / "app.js", root_ / "alias.js");
    add_ui_routes(router_, root_);
  }
  http::Reply get(const std::string& path) {
    http::Request q;
    q.method = http::Method::Get;
    q.path = path;
    return router_.route(q);
  }

  test::TempDir dir_;
  fs::path root_;
  http::Router router_;
};

TEST_F(UiFiles, ServesEachFileWithItsContentType) {
  const std::pair<const char*, const char*> cases[] = {
      {"/ui/", "text/html; charset=utf-8"},
      {"/ui/index.html", "text/html; charset=utf-8"},
      {"/ui/app.js", "text/javascript; charset=utf-8"},
      {"/ui/style.css", "text/css; charset=utf-8"},
      {"/ui/vendor/lib.js", "text/javascript; charset=utf-8"},
  };
  for (const auto& [path, type] : cases) {
    auto r = get(path);
    EXPECT_EQ(r.status, 200u) << path;
    EXPECT_EQ(header(r, "Content-Type"), type) << path;
  }
  EXPECT_EQ(body(get("/ui/")), "<!doctype html><title>wiretag</title>");
  EXPECT_EQ(body(get("/ui/vendor/lib.js")), "var lib;");
}

TEST_F(UiFiles, EveryFileCarriesTheSecurityAndCacheHeaders) {
  auto r = get("/ui/app.js");
  const std::string csp = header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
}

TEST_F(UiFiles, BareUiRedirectsToTheDirectory) {
  auto r = get("/ui");
  EXPECT_EQ(r.status, 308u);
  EXPECT_EQ(header(r, "Location"), "/ui/");
}

TEST_F(UiFiles, TraversalIsRefused) {
  for (const char* path : {"/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/..%2Fsecret.txt",
                           "/ui/vendor/../../secret.txt", "/ui/vendor/%2E%2E/%2e%2e/secret.txt",
                           "/ui/./app.js", "/ui//app.js", "/ui/app.js%00.html",
                           "/ui/..%5Csecret.txt", "/ui/.hidden.txt", "/ui/vendor/"}) {
    auto r = get(path);
    EXPECT_EQ(r.status, 400u) << path;
    EXPECT_EQ(error_code(r), "INVALID_PATH") << path;
    EXPECT_EQ(body(r).find("outside the root"), std::string::npos) << path;
  }
}

TEST_F(UiFiles, ASymlinkOutOfTheRootIsNotFoundOneInsideIsServed) {
  auto out = get("/ui/escape.txt");
  EXPECT_EQ(out.status, 404u);
  EXPECT_EQ(error_code(out), "UI_FILE_NOT_FOUND");
  EXPECT_EQ(body(get("/ui/alias.js")), "'use strict';");
}

TEST_F(UiFiles, MissingFilesDirectoriesAndOtherTypesAreNotFound) {
  for (const char* path :
       {"/ui/nope.js", "/ui/notes.md", "/ui/sub.js", "/ui/vendor", "/ui/vendor/nope/deeper.css"}) {
    auto r = get(path);
    EXPECT_EQ(r.status, 404u) << path;
    EXPECT_EQ(error_code(r), "UI_FILE_NOT_FOUND") << path;
  }
  // Only GET; a path beside /ui is not the web view's.
  http::Request post;
  post.method = http::Method::Post;
  post.path = "/ui/app.js";
  EXPECT_EQ(router_.route(post).status, 405u);
  EXPECT_EQ(error_code(get("/uix")), "ROUTE_NOT_FOUND");
}

TEST_F(UiFiles, AMissingRootIsNotFound) {
  auto r = ui_file_reply(dir_.path() / "absent", "index.html");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "UI_FILE_NOT_FOUND");
}

// The shipped page (ui/ of the repo): no inline script or style the CSP would block.
TEST(UiShippedFiles, IndexHasNoInlineScriptOrStyle) {
  std::ifstream in(fs::path(WIRETAG_UI_SOURCE_DIR) / "index.html");
  ASSERT_TRUE(in) << WIRETAG_UI_SOURCE_DIR;
  std::stringstream text;
  text << in.rdbuf();
  const std::string html = text.str();
  EXPECT_FALSE(
      std::regex_search(html, std::regex("<script(?![^>]*\\bsrc=)[^>]*>", std::regex::icase)))
      << "a <script> without src";
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+\\s*=", std::regex::icase)))
      << "an inline event handler";
  EXPECT_FALSE(std::regex_search(html, std::regex("<style|\\sstyle\\s*=", std::regex::icase)))
      << "inline style";
  EXPECT_EQ(html.find("http://"), std::string::npos) << "no CDN";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no CDN";
}

}  // namespace
}  // namespace wiretag
