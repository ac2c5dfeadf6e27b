// The policy_types table (migration 5) and the policy version reads and deletes of the
// lifecycle API on PostgreSQL: the SQL behind StoreTx::lifecycle() in PgStore.
#pragma once

#include "store/lifecycle_records.h"
#include "store/pg_connection.h"

namespace wiretag {

class PgLifecycle : public LifecycleTx {
 public:
  explicit PgLifecycle(pg::Connection& c) : c_(c) {}

  Result<std::vector<PolicyTypeRecord>> list_policy_types() override;
  Result<void> insert_policy_type(const PolicyTypeRecord& type) override;
  Result<bool> delete_policy_type(std::string_view name, std::string_view version) override;
  Result<std::vector<PolicyRecord>> list_all_policies() override;
  Result<bool> delete_policy_version(std::string_view id, int64_t version) override;
  Result<int64_t> highest_policy_version(std::string_view id) override;

 private:
  pg::Connection& c_;
};

}  // namespace wiretag
