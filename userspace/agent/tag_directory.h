// The apps behind wire tags, for naming events: a source tag the cell follows no rule from
// (the usual drop) is asked of the server (POST /internal/v1/tags/query), and the answer
// cached for a while. One thread (the event hub's) uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/server_pool.h"
#include "http/client.h"
#include "wiretag/result.h"

namespace wiretag::agent {

struct AppName {
  std::string guid;
  std::string account;
};

class TagDirectory {
 public:
  // The apps of some tags; a tag without an app is left out of the answer.
  using Lookup = std::function<Result<std::map<uint32_t, AppName>>(const std::vector<uint32_t>&)>;

  // An app keeps its tag for life, but a deleted app's tag comes back after its quarantine:
  // answers are kept for `ttl`; a failed lookup is not repeated for `retry`.
  explicit TagDirectory(Lookup lookup, std::chrono::seconds ttl = std::chrono::seconds(60),
                        std::chrono::seconds retry = std::chrono::seconds(10));

  // The app of a tag: cached, else looked up now (blocking, bounded by the lookup's timeout).
  std::optional<AppName> find(uint32_t tag);
  void learn(uint32_t tag, AppName app);
  uint64_t lookups() const { return lookups_; }

 private:
  struct Entry {
    std::optional<AppName> app;
    std::chrono::steady_clock::time_point expires;
  };
  Lookup lookup_;
  std::chrono::seconds ttl_, retry_;
  std::map<uint32_t, Entry> cache_;
  uint64_t lookups_ = 0;
};

// The lookup against the server, on its own connection (timeout 2 s).
TagDirectory::Lookup server_tag_lookup(std::shared_ptr<ServerPool> servers, std::string token,
                                       std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace wiretag::agent
