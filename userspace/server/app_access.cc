#include "server/app_access.h"

#include "wiretag/error_kind.h"

namespace wiretag {
namespace {

Error app_not_found(std::string_view guid) {
  return Error{"APP_NOT_FOUND", "app \"" + std::string(guid) + "\" is not registered"};
}

}  // namespace

Result<AppRecord> visible_app(PolicyGraph& graph, const Principal& who, std::string_view guid) {
  auto app = graph.app(guid);
  if (!app && is(app.error(), ErrorKind::NotFound)) return app_not_found(guid);
  if (!app) return app.error();
  if (!who.can_access(app->account)) return app_not_found(guid);
  return *app;
}

bool SourceVisibility::operator()(const std::string& source) {
  if (who_.admin || who_.cell || source == "*") return true;
  auto [it, fresh] = seen_.emplace(source, false);
  if (fresh) it->second = visible_app(graph_, who_, source).ok();
  return it->second;
}

Result<void> check_edge_apps(PolicyGraph& graph, const Principal& who, std::string_view source,
                             std::string_view destination) {
  if (auto dst = visible_app(graph, who, destination); !dst) return dst.error();
  if (who.admin || source == "*") return Ok();
  if (auto src = visible_app(graph, who, source); !src) return src.error();
  return Ok();
}

Result<void> check_rule_apps(PolicyGraph& graph, const Principal& who, const PolicyDraft& draft) {
  if (who.admin || !draft.rules) return Ok();
  if (auto r = check_policy_draft(draft); !r) return r.error();
  for (const PolicyRule& rule : *draft.rules)
    if (auto r = check_edge_apps(graph, who, rule.source, rule.destination); !r) return r.error();
  return Ok();
}

}  // namespace wiretag
