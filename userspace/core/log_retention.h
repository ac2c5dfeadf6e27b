// What the server keeps of its logs (issue 14 item 16): the change log up to a horizon (a
// watch from before it is told to resync) and the PAP audit by age and count. Run
// periodically by the server; each run is one write transaction.
#pragma once

#include <cstdint>
#include <functional>

#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

// 0 turns a bound off. A change or audit record goes when either of its bounds says so.
struct RetentionPolicy {
  int64_t changelog_revisions = 100000;  // the newest N revisions stay
  int64_t changelog_seconds = 7 * 86400;
  int64_t audit_records = 100000;  // the newest N records stay
  int64_t audit_seconds = 90 * 86400;
};

struct RetentionRun {
  int64_t changes_removed = 0;
  int64_t audit_removed = 0;
  int64_t horizon = 0;  // the change log's horizon after the run
};

class LogRetention {
 public:
  // floor: the highest revision the change log may be compacted through now (see
  // PolicyGraph::compaction_floor); clock_ms: unix milliseconds, the system clock when empty.
  LogRetention(Store& store, RetentionPolicy policy, std::function<Result<int64_t>()> floor = {},
               std::function<int64_t()> clock_ms = {});

  Result<RetentionRun> run();

 private:
  Store& store_;
  RetentionPolicy policy_;
  std::function<Result<int64_t>()> floor_;
  std::function<int64_t()> clock_ms_;
};

}  // namespace wiretag
