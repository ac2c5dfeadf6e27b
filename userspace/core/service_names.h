// What an admin names services by (seed 001: "a parameter the user can set dynamically (to
// help with upgrade)", "arbitrary aliases for services"): the default service that
// /v1/tables, /v1/status, /v1/actions and /v1/policies stand for, and aliases (a short name →
// a service id). Both live in the store's meta table, so every server on one store agrees and
// they survive restarts. The default may be an alias: re-pointing the alias moves it too.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/service_catalog.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

class ServiceNames {
 public:
  explicit ServiceNames(Store& store) : store_(store) {}

  // The default as set (an id or an alias); nullopt when none is.
  Result<std::optional<std::string>> default_service();
  // INVALID_SERVICE_ID / SERVICE_NOT_FOUND / ALIAS_NOT_FOUND unless `service` names a service
  // (an engine's cell need not be reporting now: it may come later).
  Result<void> set_default(std::string_view service);
  // false when none was set.
  Result<bool> clear_default();

  // alias → service id.
  Result<std::map<std::string, std::string>> aliases();
  // INVALID_ALIAS; the target is a service id (not another alias): INVALID_SERVICE_ID,
  // SERVICE_NOT_FOUND. Replaces what the alias named.
  Result<void> set_alias(std::string_view alias, std::string_view service);
  // ALIAS_NOT_FOUND; ALIAS_IN_USE while it is the default service.
  Result<void> delete_alias(std::string_view alias);

  // A service id, or an alias of one. For a name with no ':' that is not a data source, an
  // alias is looked up: SERVICE_NOT_FOUND when there is none either.
  Result<ServiceId> resolve(std::string_view id_or_alias);
  // DEFAULT_SERVICE_NOT_FOUND when none is set.
  Result<ServiceId> resolve_default();

 private:
  Store& store_;
};

}  // namespace wiretag
