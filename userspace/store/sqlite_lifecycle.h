// The policy_types table (migration 5) and the policy version reads and deletes of the
// lifecycle API: the SQL behind StoreTx::lifecycle().
#pragma once

#include "store/lifecycle_records.h"
#include "store/sqlite_statement.h"

namespace wiretag {

class SqliteLifecycle : public LifecycleTx {
 public:
  explicit SqliteLifecycle(sqlite::Statements st) : st_(std::move(st)) {}

  Result<std::vector<PolicyTypeRecord>> list_policy_types() override;
  Result<void> insert_policy_type(const PolicyTypeRecord& type) override;
  Result<bool> delete_policy_type(std::string_view name, std::string_view version) override;
  Result<std::vector<PolicyRecord>> list_all_policies() override;
  Result<bool> delete_policy_version(std::string_view id, int64_t version) override;
  Result<int64_t> highest_policy_version(std::string_view id) override;

 private:
  sqlite::Statements st_;
};

}  // namespace wiretag
