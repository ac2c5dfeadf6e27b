// The web view (docs/ui.md): GET /ui and /ui/... serve the static files of one directory
// (index.html, app.js, style.css; --ui-dir). They hold no data, so they need no token; the
// page asks for the operator's token and calls the public APIs with it.
#pragma once

#include <filesystem>
#include <string_view>

#include "http/router.h"
#include "wiretag/result.h"

namespace wiretag {

// The Content-Security-Policy of every file: scripts, styles and requests from this origin
// only, no inline script or style, no framing.
inline constexpr std::string_view kUiContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// One file under `root` for the path after "/ui/" ("" is index.html): 400 INVALID_PATH for a
// ".", ".." or hidden component, an empty one or a NUL; 404 UI_FILE_NOT_FOUND for a missing
// file, a directory, a type not served, or a path that resolves (symlinks) outside root.
// Sent with its Content-Type, the CSP, nosniff and "Cache-Control: no-cache" (a few KiB,
// read from disk each time, so an upgrade shows at the next load).
Result<http::Reply> ui_file_reply(const std::filesystem::path& root, std::string_view file);

// GET /ui (a redirect to /ui/), /ui/ and /ui/*file from `root`.
void add_ui_routes(http::Router& router, std::filesystem::path root);

}  // namespace wiretag
