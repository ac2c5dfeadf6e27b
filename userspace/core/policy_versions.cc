// The immutable versions of account policies (AccountPolicies::versions and ::version): every
// create and update stored one, and deleting a policy keeps them (the PAP may have deployed
// them), so each stays readable by the policy's id.
#include "core/account_policies.h"
#include "core/app_guid.h"

namespace wiretag {
namespace {

using nlohmann::json;

// The policy a stored version holds: the version record carries only id, version and body;
// account, name and refid are read from the body (to_json's shape).
Result<Policy> policy_of_version(const PolicyRecord& rec) {
  PolicyRecord full = rec;
  json body = json::parse(rec.body, nullptr, false);
  if (body.is_object()) {
    if (auto it = body.find("refid"); it != body.end() && it->is_string())
      full.refid = it->get<std::string>();
    if (auto it = body.find("account_id"); it != body.end() && it->is_string())
      full.account = it->get<std::string>();
    if (auto it = body.find("name"); it != body.end() && it->is_string())
      full.name = it->get<std::string>();
  }
  return policy_from_record(full);
}

Error not_found(std::string_view key) {
  return Error{"POLICY_NOT_FOUND", "no policy with id or refid \"" + std::string(key) + "\""};
}

// The policy's id and latest version: a live policy by id or refid (an id wins, a refid
// naming several is AMBIGUOUS_REFID), else a deleted one of this account by id.
Result<std::pair<std::string, int64_t>> locate(PoliciesPort& tx, std::string_view account,
                                               std::string_view key) {
  auto found = tx.find_policies(account, key);
  if (!found) return found.error();
  for (const PolicyRecord& p : *found)
    if (p.id == key) return std::pair{p.id, p.version};
  if (found->size() > 1)
    return Error{"AMBIGUOUS_REFID", "refid \"" + std::string(key) + "\" names " +
                                        std::to_string(found->size()) + " policies"};
  if (found->size() == 1) return std::pair{found->front().id, found->front().version};
  // Deleted: its versions remain; the latest is the last one stored.
  int64_t latest = 0;
  for (;;) {
    auto v = tx.policy_version(key, latest + 1);
    if (!v) return v.error();
    if (!*v || (*v)->account != account) break;
    ++latest;
  }
  if (latest == 0) return not_found(key);
  return std::pair{std::string(key), latest};
}

}  // namespace

Result<std::vector<Policy>> AccountPolicies::versions(std::string_view account,
                                                      std::string_view key) {
  if (auto r = check_account_id(account); !r) return r.error();
  return store_.read<std::vector<Policy>>([&](StoreTx& tx) -> Result<std::vector<Policy>> {
    auto where = locate(tx, account, key);
    if (!where) return where.error();
    std::vector<Policy> out;
    for (int64_t n = 1; n <= where->second; ++n) {
      auto rec = tx.policy_version(where->first, n);
      if (!rec) return rec.error();
      if (!*rec) continue;  // not expected: every version is stored
      auto p = policy_of_version(**rec);
      if (!p) return p.error();
      out.push_back(std::move(*p));
    }
    return out;
  });
}

Result<Policy> AccountPolicies::version(std::string_view account, std::string_view key, int64_t n) {
  if (auto r = check_account_id(account); !r) return r.error();
  return store_.read<Policy>([&](StoreTx& tx) -> Result<Policy> {
    auto where = locate(tx, account, key);
    if (!where) return where.error();
    auto rec = n >= 1 && n <= where->second ? tx.policy_version(where->first, n)
                                            : Result<std::optional<PolicyRecord>>(std::nullopt);
    if (!rec) return rec.error();
    if (!*rec)
      return Error{"POLICY_VERSION_NOT_FOUND",
                   "policy \"" + std::string(key) + "\" has versions 1 to " +
                       std::to_string(where->second) + ", not " + std::to_string(n)};
    return policy_of_version(**rec);
  });
}

}  // namespace wiretag
