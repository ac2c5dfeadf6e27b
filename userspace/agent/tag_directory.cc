#include "agent/tag_directory.h"

#include <memory>
#include <mutex>

#include "common/log.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {
constexpr size_t kMaxCached = 65536;  // tags: a 2-byte tag space whole
}

TagDirectory::TagDirectory(Lookup lookup, std::chrono::seconds ttl, std::chrono::seconds retry)
    : lookup_(std::move(lookup)), ttl_(ttl), retry_(retry) {}

void TagDirectory::learn(uint32_t tag, AppName app) {
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[tag] = Entry{std::move(app), std::chrono::steady_clock::now() + ttl_};
}

std::optional<AppName> TagDirectory::find(uint32_t tag) {
  if (tag == 0) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.find(tag); it != cache_.end() && it->second.expires > now)
    return it->second.app;
  if (!lookup_) return std::nullopt;
  ++lookups_;
  auto found = lookup_({tag});
  if (cache_.size() >= kMaxCached) cache_.clear();
  if (!found) {
    spdlog::debug("tag {}: {}: {}", tag, found.error().code, found.error().message);
    cache_[tag] = Entry{std::nullopt, now + retry_};
    return std::nullopt;
  }
  auto it = found->find(tag);
  if (it == found->end()) {
    cache_[tag] = Entry{std::nullopt, now + retry_};
    return std::nullopt;
  }
  cache_[tag] = Entry{it->second, now + ttl_};
  return it->second;
}

TagDirectory::Lookup server_tag_lookup(std::shared_ptr<ServerPool> servers, std::string token,
                                       std::shared_ptr<boost::asio::ssl::context> tls) {
  auto client =
      std::make_shared<PooledClient>(std::move(servers), std::move(token), std::move(tls));
  return [client](const std::vector<uint32_t>& tags) -> Result<std::map<uint32_t, AppName>> {
    auto res = client->get().request("POST", "/internal/v1/tags/query", json{{"tags", tags}}.dump(),
                                     std::chrono::seconds(2));
    if (!res) return res.error();
    if (res->status != 200)
      return Error{"UPSTREAM_ERROR",
                   "tags query: HTTP " + std::to_string(res->status) + " " + res->error_code()};
    WT_TRY(body, res->json());
    std::map<uint32_t, AppName> out;
    try {
      for (const json& a : body->at("apps"))
        out[a.at("tag").get<uint32_t>()] =
            AppName{a.at("guid").get<std::string>(), a.at("account").get<std::string>()};
    } catch (const json::exception& e) {
      return Error{"INVALID_RESPONSE", std::string("tags query: ") + e.what()};
    }
    return out;
  };
}

}  // namespace wiretag::agent
