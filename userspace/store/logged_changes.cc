#include "store/logged_changes.h"

#include "common/log.h"

namespace wiretag {

void log_committed(const ChangeRecord& c) {
  log_record(spdlog::level::info, "change", "change committed",
             {{"revision", c.revision},
              {"kind", c.kind},
              {"account", c.account},
              {"subject", c.subject},
              {"principal", c.principal.empty() ? std::string("system") : c.principal}});
}

}  // namespace wiretag
