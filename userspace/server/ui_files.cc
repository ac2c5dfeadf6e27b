#include "server/ui_files.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace wiretag {
namespace {

namespace fs = std::filesystem;

// Bigger files are not the web view's.
constexpr std::uintmax_t kMaxFileBytes = 8 << 20;

// The types served, by extension; anything else is not found.
std::string_view content_type(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes)
    if (name.ends_with(ext)) return type;
  return {};
}

Error not_found(std::string_view file) {
  return Error{"UI_FILE_NOT_FOUND", "no such file of the web view: /ui/" + std::string(file)};
}

// Every component a plain name: the path can only go down from the root.
Result<void> check_components(std::string_view file) {
  const auto bad = [&](std::string why) {
    return Error{"INVALID_PATH", "/ui/" + std::string(file) + ": " + why};
  };
  if (file.find('\0') != std::string_view::npos) return bad("NUL in the path");
  if (file.find('\\') != std::string_view::npos) return bad("backslash in the path");
  for (;;) {
    const size_t slash = file.find('/');
    const std::string_view part = file.substr(0, slash);
    if (part.empty()) return bad("empty path component");
    if (part.starts_with('.')) return bad("'.', '..' and hidden names are not served");
    if (slash == std::string_view::npos) return Ok();
    file.remove_prefix(slash + 1);
  }
}

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *r != *q) return false;
  return q != p.end();
}

}  // namespace

Result<http::Reply> ui_file_reply(const fs::path& root, std::string_view file) {
  if (file.empty()) file = "index.html";
  if (auto ok = check_components(file); !ok) return ok.error();
  const std::string_view type = content_type(file);
  if (type.empty()) return not_found(file);
  // Symlinks are followed only when they stay under the root.
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return not_found(file);
  const fs::path real = fs::canonical(real_root / fs::path(std::string(file)), ec);
  if (ec || !inside(real_root, real) || !fs::is_regular_file(real, ec)) return not_found(file);
  const auto size = fs::file_size(real, ec);
  if (ec || size > kMaxFileBytes) return not_found(file);
  std::ifstream in(real, std::ios::binary);
  if (!in) return not_found(file);
  auto body = std::make_shared<std::string>(std::istreambuf_iterator<char>(in),
                                            std::istreambuf_iterator<char>());
  http::Reply reply;
  reply.status = 200;
  reply.serialized = std::move(body);
  reply.headers = {
      {"Content-Type", std::string(type)},
      {"Content-Security-Policy", std::string(kUiContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cache-Control", "no-cache"},
  };
  return reply;
}

void add_ui_routes(http::Router& router, fs::path root) {
  router.get(
      "/ui/*file", [root = std::move(root)](const http::Request& req) -> Result<http::Reply> {
        // "/ui" itself: relative links in index.html resolve against "/ui/".
        if (req.param("file").empty() && !req.path.ends_with('/')) {
          http::Reply reply{308, nullptr};
          reply.serialized = std::make_shared<const std::string>();
          reply.headers = {{"Location", "/ui/"}, {"Content-Type", "text/plain; charset=utf-8"}};
          return reply;
        }
        return ui_file_reply(root, req.param("file"));
      });
}

}  // namespace wiretag
