// A wt_event from the ring buffer as readers see it (events/drop_event.h): the endpoint's
// device and app, the source app and account from the tag (the cell's followed apps, else
// the server), protocol and reason names, and for drop_policy why no rule matched, from the
// rules in force on the destination and the policies they came from.
#pragma once

#include <string>
#include <vector>

#include "agent/cell.h"
#include "agent/tag_directory.h"
#include "events/drop_event.h"
#include "wiretag/abi.h"

namespace wiretag::agent {

class EventNamer {
 public:
  EventNamer(const Cell& cell, TagDirectory& directory, std::string cell_name);
  events::DropEvent name(const wt_event& ev);

 private:
  // Guid and account of a tag: a followed app's, else the directory's.
  void name_peer(events::Peer& peer, uint32_t tag);

  const Cell& cell_;
  TagDirectory& directory_;
  std::string cell_name_;
};

// "no rule from web to db on tcp/5432; web→db allows tcp/8080 (default-whitelist)": `what` is
// the packet's protocol and port ("tcp/5432", "icmp"); the rules are those in force into the
// destination from the source's tag and from "*".
std::string explain_policy_drop(const std::string& from, const std::string& to,
                                const std::string& what, const std::vector<RuleOrigin>& from_source,
                                const std::vector<RuleOrigin>& from_any);
// "tcp/8080", "tcp/8000-8099", "udp" (every port), "icmp", "any".
std::string rule_text(const Rule& rule);

}  // namespace wiretag::agent
