// Every committed change in the log (logger "change"), with whom it was made for: the process
// log says who changed what even where the change log has been compacted away.
#pragma once

#include "store/store.h"

namespace wiretag {

// One info record: revision, kind, account, subject and principal ("" → "system": the
// process's own change). Not the body, which can be a whole policy.
void log_committed(const ChangeRecord& change);

}  // namespace wiretag
