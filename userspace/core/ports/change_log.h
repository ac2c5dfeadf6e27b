// The port for the change log: every committed change by revision, which watches and the
// in-memory index follow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

struct ChangeRecord {
  int64_t revision = 0;
  std::string kind;  // "app.created", "app.deleted", "edge.created", ...
  std::string account;
  std::string subject;  // the app guid or policy id the change is about
  std::string body;     // JSON
  // Who made the change ("token:ID", "pap:USER", "cell:NAME"; see common/acting_principal.h):
  // left empty, the store records whom the queuing thread acted for. Empty for the process's
  // own changes and for changes logged before schema 6.
  std::string principal{};
};

class ChangeLogPort {
 public:
  virtual ~ChangeLogPort() = default;

  // Appends to the change log; returns the new revision (strictly increasing, never reused).
  virtual Result<int64_t> append_change(const ChangeRecord& change) = 0;
  virtual Result<int64_t> revision() = 0;
  virtual Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit) = 0;
  // The highest revision compacted away (0: none): changes_since(r) for r below it is
  // incomplete, so a reader that far behind must resync.
  virtual Result<int64_t> change_horizon() = 0;
  // Removes the changes logged before `logged_before` (unix seconds; 0: no age bound) or
  // outside the newest `keep_revisions` revisions (0: no count bound), but none above
  // `floor`, and moves the horizon up to the highest removed. Returns how many it removed.
  virtual Result<int64_t> compact_changes(int64_t keep_revisions, int64_t logged_before,
                                          int64_t floor) = 0;
};

}  // namespace wiretag
