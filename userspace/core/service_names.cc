#include "core/service_names.h"

#include <nlohmann/json.hpp>

#include "wiretag/error_kind.h"

namespace wiretag {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultKey = "services.default";
constexpr std::string_view kAliasesKey = "services.aliases";

Result<std::map<std::string, std::string>> read_aliases(MetaPort& tx) {
  WT_TRY(text, tx.get_meta(kAliasesKey));
  std::map<std::string, std::string> out;
  if (!*text) return out;
  json j = json::parse(**text, nullptr, false);
  if (!j.is_object()) return Error{"STORE_CORRUPT", "meta services.aliases is not a JSON object"};
  for (const auto& [alias, target] : j.items())
    if (target.is_string()) out[alias] = target.get<std::string>();
  return out;
}

Result<void> write_aliases(MetaPort& tx, const std::map<std::string, std::string>& aliases) {
  json j = json::object();
  for (const auto& [alias, target] : aliases) j[alias] = target;
  return tx.set_meta(kAliasesKey, j.dump());
}

Result<ServiceId> resolve_in(MetaPort& tx, std::string_view name) {
  auto id = parse_service_id(name);
  if (id || !is(id.error(), ErrorKind::NotFound) || !check_alias(name)) return id;
  WT_TRY(aliases, read_aliases(tx));
  auto it = aliases->find(std::string(name));
  if (it == aliases->end())
    return Error{"SERVICE_NOT_FOUND", "no service or alias \"" + std::string(name) + "\""};
  return parse_service_id(it->second);
}

}  // namespace

Result<std::optional<std::string>> ServiceNames::default_service() {
  return store_.read<std::optional<std::string>>(
      [](StoreTx& tx) -> Result<std::optional<std::string>> {
        WT_TRY(v, tx.get_meta(kDefaultKey));
        if (*v && (*v)->empty()) return std::optional<std::string>();
        return *v;
      });
}

Result<void> ServiceNames::set_default(std::string_view service) {
  auto done = store_.write<bool>([&](StoreTx& tx) -> Result<bool> {
    WT_TRY(id, resolve_in(tx, service));
    if (auto r = tx.set_meta(kDefaultKey, service); !r) return r.error();
    return true;
  });
  if (!done) return done.error();
  return Ok();
}

Result<bool> ServiceNames::clear_default() {
  return store_.write<bool>([](StoreTx& tx) -> Result<bool> {
    WT_TRY(v, tx.get_meta(kDefaultKey));
    if (!*v || (*v)->empty()) return false;
    if (auto r = tx.set_meta(kDefaultKey, ""); !r) return r.error();
    return true;
  });
}

Result<std::map<std::string, std::string>> ServiceNames::aliases() {
  return store_.read<std::map<std::string, std::string>>(
      [](StoreTx& tx) { return read_aliases(tx); });
}

Result<void> ServiceNames::set_alias(std::string_view alias, std::string_view service) {
  if (auto r = check_alias(alias); !r) return r.error();
  WT_TRY(id, parse_service_id(service));
  auto done = store_.write<bool>([&](StoreTx& tx) -> Result<bool> {
    WT_TRY(aliases, read_aliases(tx));
    (*aliases)[std::string(alias)] = id->id();
    if (auto r = write_aliases(tx, *aliases); !r) return r.error();
    return true;
  });
  if (!done) return done.error();
  return Ok();
}

Result<void> ServiceNames::delete_alias(std::string_view alias) {
  auto done = store_.write<bool>([&](StoreTx& tx) -> Result<bool> {
    WT_TRY(aliases, read_aliases(tx));
    if (aliases->erase(std::string(alias)) == 0)
      return Error{"ALIAS_NOT_FOUND", "no alias \"" + std::string(alias) + "\""};
    WT_TRY(current, tx.get_meta(kDefaultKey));
    if (*current && **current == alias)
      return Error{"ALIAS_IN_USE", "alias \"" + std::string(alias) +
                                       "\" is the default service: set another default first"};
    if (auto r = write_aliases(tx, *aliases); !r) return r.error();
    return true;
  });
  if (!done) return done.error();
  return Ok();
}

Result<ServiceId> ServiceNames::resolve(std::string_view id_or_alias) {
  auto direct = parse_service_id(id_or_alias);
  if (direct || !is(direct.error(), ErrorKind::NotFound)) return direct;
  return store_.read<ServiceId>([&](StoreTx& tx) { return resolve_in(tx, id_or_alias); });
}

Result<ServiceId> ServiceNames::resolve_default() {
  return store_.read<ServiceId>([](StoreTx& tx) -> Result<ServiceId> {
    WT_TRY(v, tx.get_meta(kDefaultKey));
    if (!*v || (*v)->empty())
      return Error{"DEFAULT_SERVICE_NOT_FOUND",
                   "no default service is set: PUT /v1/system/default-service {\"service\": …}"};
    return resolve_in(tx, **v);
  });
}

}  // namespace wiretag
