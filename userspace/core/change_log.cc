#include "core/change_log.h"

#include <string>

namespace wiretag {

Result<int64_t> log_change(ChangeLogPort& tx, const protocol::Change& change) {
  return tx.append_change({0, std::string(protocol::to_string(change.kind)), change.account,
                           change.subject, protocol::encode_body(change.body).dump()});
}

}  // namespace wiretag
