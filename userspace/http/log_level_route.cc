#include "http/log_level_route.h"

#include "common/log.h"
#include "http/json_input.h"

namespace wiretag::http {
namespace {

constexpr std::string_view kPath = "/v1/system/log-level";

// {"level":"debug"}: the level, or why not.
Result<spdlog::level::level_enum> level_of(const std::string& body) {
  WT_TRY(object, parse_json_object(body));
  if (auto r = check_fields(*object, {"level"}); !r) return r.error();
  WT_TRY(name, string_field(*object, "level"));
  return parse_log_level(*name);
}

}  // namespace

void add_log_level_routes(Router& router, std::function<Result<void>(const Request&)> authorize) {
  router.get(kPath, [authorize](const Request& req) -> Result<Reply> {
    if (authorize)
      if (auto r = authorize(req); !r) return r.error();
    return Reply{200, {{"level", log_level_name()}}};
  });
  router.put(kPath, [authorize](const Request& req) -> Result<Reply> {
    if (authorize)
      if (auto r = authorize(req); !r) return r.error();
    WT_TRY(level, level_of(req.body));
    const std::string previous = log_level_name();
    // Logged under whichever of the two levels lets an info record through.
    const auto note = [&] {
      log_record(spdlog::level::info, "main", "log level changed",
                 {{"from", previous},
                  {"to", log_level_name(*level)},
                  {"principal", req.principal->empty() ? "anonymous" : *req.principal}});
    };
    const bool noted = spdlog::should_log(spdlog::level::info);
    if (noted) note();
    set_log_level(*level);
    if (!noted) note();
    return Reply{200, {{"level", log_level_name()}, {"previous", previous}}};
  });
}

}  // namespace wiretag::http
