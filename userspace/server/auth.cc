#include "server/auth.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace wiretag {
namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
  return out;
}

Result<void> write_secret_file(const std::filesystem::path& path, const std::string& content) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("TOKEN_FILE", "open " + tmp, errno);
  ::fchmod(fd, 0600);  // O_CREAT's mode does not apply to an existing file
  ssize_t n = ::write(fd, content.data(), content.size());
  int err = errno;
  if (n != static_cast<ssize_t>(content.size()) || ::fsync(fd) != 0) {
    ::close(fd);
    return Error::from_errno("TOKEN_FILE", "write " + tmp, n < 0 ? err : EIO);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::from_errno("TOKEN_FILE", "rename to " + path.string(), errno);
  return Ok();
}

}  // namespace

bool Principal::can_access(std::string_view account) const {
  return admin || std::find(accounts.begin(), accounts.end(), account) != accounts.end();
}

std::string Authenticator::hash(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}

Result<Principal> Authenticator::authenticate(std::string_view header) const {
  WT_TRY(who, identify(header));
  if (!who->admin && !who->writer)
    return Error{"FORBIDDEN", "this token may use only the internal API (/internal/v1)"};
  return *who;
}

Result<Principal> Authenticator::authenticate_internal(std::string_view header) const {
  WT_TRY(who, identify(header));
  if (!who->admin && !who->cell)
    return Error{"FORBIDDEN", "the internal API needs a token with scope network.admin or cell"};
  return *who;
}

Result<Principal> Authenticator::identify(std::string_view header) const {
  if (insecure_) return Principal{.admin = true};
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer)
    return Error{"UNAUTHORIZED", "a bearer token is required (Authorization: Bearer <token>)"};
  std::string digest = hash(header.substr(kBearer.size()));
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(digest); it != cache_.end()) return it->second;
  }
  auto found =
      store_.read<std::optional<TokenRecord>>([&](StoreTx& tx) { return tx.find_token(digest); });
  if (!found) return found.error();
  if (!*found) return Error{"UNAUTHORIZED", "unknown bearer token"};
  Principal p;
  const auto& scopes = (*found)->scopes;
  auto has = [&](std::string_view scope) {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
  };
  p.admin = has(kScopeAdmin);
  p.cell = has(kScopeCell);
  p.writer = has(kScopeWrite);
  if (p.writer) p.accounts = (*found)->accounts;
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() >= 100000) cache_.clear();  // a bound; the store stays the truth
  cache_.emplace(std::move(digest), p);
  return p;
}

void Authenticator::forget_tokens() const {
  std::unique_lock lock(cache_mutex_);
  cache_.clear();
}

Result<std::string> Authenticator::issue(std::vector<std::string> scopes,
                                         std::vector<std::string> accounts,
                                         std::string description) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Error{"INTERNAL", "RAND_bytes failed"};
  std::string token = "wt_" + to_hex(raw, sizeof raw);
  TokenRecord record{hash(token), std::move(scopes), std::move(accounts), std::move(description)};
  auto r = store_.write<void>([&](StoreTx& tx) { return tx.insert_token(record); });
  forget_tokens();
  if (!r) return r.error();
  return token;
}

Result<std::filesystem::path> Authenticator::bootstrap_admin(
    const std::filesystem::path& data_dir) {
  auto count = store_.read<int64_t>([](StoreTx& tx) { return tx.count_tokens(); });
  if (!count) return count.error();
  if (*count > 0) return std::filesystem::path{};
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Error{"INTERNAL", "RAND_bytes failed"};
  std::string token = "wt_" + to_hex(raw, sizeof raw);
  // File first: a crash before the insert leaves no token in the store, so the next start
  // writes a fresh file.
  const auto path = data_dir / "admin-token";
  if (auto r = write_secret_file(path, token + "\n"); !r) return r.error();
  TokenRecord record{hash(token), {std::string(kScopeAdmin)}, {}, "bootstrap admin token"};
  auto r = store_.write<void>([&](StoreTx& tx) { return tx.insert_token(record); });
  if (!r) return r.error();
  return path;
}

}  // namespace wiretag
