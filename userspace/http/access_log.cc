#include "http/access_log.h"

#include "common/log.h"

namespace wiretag::http {

void log_access(Router& router) {
  router.observe([](const Outcome& o) {
    if (!spdlog::should_log(spdlog::level::info)) return;
    nlohmann::ordered_json fields = {
        {"method", method_name(o.method)},
        {"route", o.route},
        {"path", o.path},
        {"status", o.status},
        {"duration_ms",
         std::chrono::duration_cast<std::chrono::microseconds>(o.elapsed).count() / 1000.0},
        {"principal", o.principal},
        {"api", o.api}};
    if (!o.request_id.empty()) fields["request_id"] = o.request_id;
    log_record(spdlog::level::info, "access", "http request", fields);
  });
}

}  // namespace wiretag::http
