#include "server/auth.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>

#include "common/log.h"
#include "core/app_guid.h"
#include "http/authorization.h"

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

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_secret() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return "";
  return "wt_" + to_hex(raw, sizeof raw);
}

bool has_scope(const TokenRecord& t, std::string_view scope) {
  return std::find(t.scopes.begin(), t.scopes.end(), scope) != t.scopes.end();
}

bool expired(const std::optional<int64_t>& expires_at, int64_t now) {
  return expires_at && now >= *expires_at;
}

TokenRecord admin_record(std::string digest, std::string description) {
  TokenRecord t;
  t.hash = std::move(digest);
  t.scopes = {std::string(kScopeAdmin)};
  t.description = std::move(description);
  return t;
}

Error unauthorized(std::string message) { return Error{"UNAUTHORIZED", std::move(message)}; }

// Ten years: longer is "never", which is the absence of expires_in.
constexpr int64_t kMaxExpiresIn = 10ll * 365 * 24 * 3600;

}  // namespace

bool Principal::can_access(std::string_view account) const {
  return admin || std::find(accounts.begin(), accounts.end(), account) != accounts.end();
}

Result<void> Principal::may_act_as_cell(std::string_view cell) const {
  if (admin || (this->cell && !cell_name.empty() && cell_name == cell)) return Ok();
  if (this->cell && cell_name.empty())
    return Error{"CELL_MISMATCH",
                 "this cell token names no cell (issued before cells were bound): issue one "
                 "with \"cell\""};
  return Error{"CELL_MISMATCH", "this credential acts as cell \"" + cell_name + "\", not \"" +
                                    std::string(cell) + "\""};
}

std::string Authenticator::hash(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}

Result<Principal> Authenticator::external_only(Principal who) {
  if (!who.admin && !who.writer)
    return Error{"FORBIDDEN", who.cell ? "this token may use only the internal API (/internal/v1)"
                                       : "this token may only read GET /metrics"};
  return who;
}

Result<Principal> Authenticator::internal_only(Principal who) {
  if (!who.admin && !who.cell)
    return Error{"FORBIDDEN", "the internal API needs a token with scope network.admin or cell"};
  return who;
}

Result<Principal> Authenticator::metrics_only(Principal who) {
  if (!who.admin && !who.metrics)
    return Error{"FORBIDDEN", "GET /metrics needs a token with scope network.admin or metrics"};
  return who;
}

Result<Principal> Authenticator::authenticate(std::string_view header) const {
  WT_TRY(who, identify(header));
  return external_only(std::move(*who));
}

Result<Principal> Authenticator::authenticate(const http::Request& request) const {
  WT_TRY(who, identify(request));
  return external_only(std::move(*who));
}

Result<Principal> Authenticator::authenticate_internal(std::string_view header,
                                                      std::string_view peer_cell) const {
  if (header.empty() && !peer_cell.empty() && !insecure_) {
    Principal cell;
    cell.cell = true;
    cell.cell_name = std::string(peer_cell);
    cell.name = "cell:" + cell.cell_name;
    return cell;
  }
  WT_TRY(who, identify(header));
  return internal_only(std::move(*who));
}

Result<Principal> Authenticator::authenticate_internal(const http::Request& request) const {
  if (request.authorization.empty() && !request.peer_cell.empty() && !insecure_) {
    auto cell = authenticate_internal(request.authorization, request.peer_cell);
    if (cell) request.set_principal(cell->name);
    return cell;
  }
  WT_TRY(who, identify(request));
  return internal_only(std::move(*who));
}

Result<Principal> Authenticator::authenticate_metrics(std::string_view header) const {
  WT_TRY(who, identify(header));
  return metrics_only(std::move(*who));
}

Result<Principal> Authenticator::authenticate_metrics(const http::Request& request) const {
  WT_TRY(who, identify(request));
  return metrics_only(std::move(*who));
}

Result<Principal> Authenticator::identify(const http::Request& request) const {
  auto who = identify(request.authorization);
  if (who) request.set_principal(who->name);
  return who;
}

Result<Principal> Authenticator::identify(std::string_view header) const {
  if (insecure_) {
    Principal everyone;
    everyone.admin = true;
    everyone.name = "insecure";
    return everyone;
  }
  auto token = http::credentials_for(header, "Bearer");
  if (!token) return unauthorized("a bearer token is required (Authorization: Bearer <token>)");
  std::string digest = hash(*token);
  const int64_t now = now_seconds();
  std::optional<KnownToken> known;
  uint64_t generation = 0;
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(digest);
        it != cache_.end() && now - it->second.found_at < kRecheckSeconds)
      known = it->second;
    generation = generation_;
  }
  if (!known) {
    auto found =
        store_.read<std::optional<TokenRecord>>([&](StoreTx& tx) { return tx.find_token(digest); });
    if (!found) return found.error();
    if (!*found) return unauthorized("unknown bearer token");
    const TokenRecord& t = **found;
    known.emplace();
    known->principal.admin = has_scope(t, kScopeAdmin);
    known->principal.cell = has_scope(t, kScopeCell);
    known->principal.writer = has_scope(t, kScopeWrite);
    known->principal.metrics = has_scope(t, kScopeMetrics);
    if (known->principal.writer) known->principal.accounts = t.accounts;
    if (known->principal.cell) known->principal.cell_name = t.cell;
    known->principal.name = "token:" + t.id;
    known->expires_at = t.expires_at;
    known->last_used_at = t.last_used_at.value_or(0);
    known->found_at = now;
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= 100000) cache_.clear();  // a bound; the store stays the truth
    // Not if tokens were removed since the read: it may have found a token now revoked.
    if (generation == generation_) cache_.insert_or_assign(digest, *known);
  }
  if (expired(known->expires_at, now)) return unauthorized("this bearer token has expired");
  if (now - known->last_used_at >= kLastUsedGranularitySeconds) note_use(digest, now);
  return known->principal;
}

void Authenticator::note_use(const std::string& digest, int64_t now) const {
  {
    // Claimed under the lock: of concurrent requests with one token, one writes.
    std::unique_lock lock(cache_mutex_);
    auto it = cache_.find(digest);
    if (it == cache_.end() || now - it->second.last_used_at < kLastUsedGranularitySeconds) return;
    it->second.last_used_at = now;
  }
  auto r = store_.write<void>([&](StoreTx& tx) { return tx.set_token_last_used(digest, now); });
  if (!r) spdlog::warn("token last use not recorded: {}", r.error().message);
}

void Authenticator::forget_tokens() const {
  std::unique_lock lock(cache_mutex_);
  cache_.clear();
  ++generation_;
}

Result<IssuedToken> Authenticator::issue(TokenGrant grant) {
  for (const std::string& s : grant.scopes)
    if (s != kScopeAdmin && s != kScopeWrite && s != kScopeCell && s != kScopeMetrics)
      return Error{"INVALID_SCOPE", "unknown scope \"" + s + "\""};
  for (const std::string& a : grant.accounts)
    if (auto r = check_account_id(a); !r) return r.error();
  const bool cell =
      std::find(grant.scopes.begin(), grant.scopes.end(), kScopeCell) != grant.scopes.end();
  if (cell && grant.cell.empty())
    return Error{"MISSING_FIELD", "a token with scope cell names its cell (\"cell\")"};
  if (!cell && !grant.cell.empty())
    return Error{"INVALID_FIELD_COMBINATION", "\"cell\" is only for a token with scope cell"};
  auto has = [&](std::string_view s) {
    return std::find(grant.scopes.begin(), grant.scopes.end(), s) != grant.scopes.end();
  };
  // A grant must mean what it says: accounts limit network.write only (an admin acts on every
  // account), and a cell token is bound to its cell, not an admin or writer besides.
  if (!grant.accounts.empty() && (has(kScopeAdmin) || !has(kScopeWrite)))
    return Error{"INVALID_FIELD_COMBINATION",
                 "\"accounts\" limits a token with scope network.write, without network.admin "
                 "(an admin token acts on every account)"};
  if (cell && (has(kScopeAdmin) || has(kScopeWrite)))
    return Error{"INVALID_FIELD_COMBINATION",
                 "a token with scope cell is bound to its cell: it takes neither network.admin "
                 "nor network.write"};
  if (cell && !is_valid_app_guid(grant.cell))
    return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
  if (grant.expires_in && (*grant.expires_in < 1 || *grant.expires_in > kMaxExpiresIn))
    return Error{"INVALID_EXPIRES_IN",
                 "expires_in is 1-" + std::to_string(kMaxExpiresIn) + " seconds"};
  std::string secret = new_secret();
  if (secret.empty()) return Error{"INTERNAL", "RAND_bytes failed"};
  const int64_t now = now_seconds();
  TokenRecord record;
  record.hash = hash(secret);
  record.scopes = std::move(grant.scopes);
  record.accounts = std::move(grant.accounts);
  record.description = std::move(grant.description);
  record.cell = std::move(grant.cell);
  record.created_at = now;
  if (grant.expires_in) record.expires_at = now + *grant.expires_in;
  return insert(std::move(record), std::move(secret));
}

Result<IssuedToken> Authenticator::insert(TokenRecord record, std::string secret) {
  record.id = record.hash.substr(0, 16);  // names the token without giving it away
  if (!record.created_at) record.created_at = now_seconds();
  auto r = store_.write<void>([&](StoreTx& tx) { return tx.insert_token(record); });
  if (!r) return r.error();
  return IssuedToken{std::move(secret), std::move(record)};
}

Result<std::vector<TokenRecord>> Authenticator::list() const {
  return store_.read<std::vector<TokenRecord>>([](StoreTx& tx) { return tx.list_tokens(); });
}

Result<void> Authenticator::revoke(std::string_view id) {
  const int64_t now = now_seconds();
  auto r = store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(all, tx.list_tokens());
    auto it =
        std::find_if(all->begin(), all->end(), [&](const TokenRecord& t) { return t.id == id; });
    if (it == all->end())
      return Error{"TOKEN_NOT_FOUND", "no token with id \"" + std::string(id) + "\""};
    auto live_admin = [&](const TokenRecord& t) {
      return has_scope(t, kScopeAdmin) && !expired(t.expires_at, now);
    };
    if (live_admin(*it) && std::count_if(all->begin(), all->end(), live_admin) == 1)
      return Error{"LAST_ADMIN_TOKEN",
                   "this is the last admin token: issue or rotate another one first"};
    WT_TRY(deleted, tx.delete_token(id));
    return Ok();
  });
  forget_tokens();
  return r;
}

Result<IssuedToken> Authenticator::rotate_admin(std::string& revoked) {
  revoked.clear();
  if (admin_token_file_.empty())
    return Error{"CONFLICT", "this server keeps no admin token file (--insecure-no-auth)"};
  std::string old;
  std::getline(std::ifstream(admin_token_file_), old);
  while (!old.empty() && (old.back() == '\r' || old.back() == ' ')) old.pop_back();
  std::string secret = new_secret();
  if (secret.empty()) return Error{"INTERNAL", "RAND_bytes failed"};
  TokenRecord record = admin_record(hash(secret), "admin token (rotated)");
  // New token in the store, then the file, then the old token out: a crash in between leaves
  // two working admin tokens, never none.
  WT_TRY(issued, insert(std::move(record), std::move(secret)));
  if (auto w = write_secret_file(admin_token_file_, issued->secret + "\n"); !w) return w.error();
  if (!old.empty()) {
    const std::string old_hash = hash(old);
    auto r = store_.write<std::string>([&](StoreTx& tx) -> Result<std::string> {
      WT_TRY(found, tx.find_token(old_hash));
      if (!*found || (*found)->hash == issued->record.hash) return std::string();
      WT_TRY(deleted, tx.delete_token((*found)->id));
      return (*found)->id;
    });
    forget_tokens();
    if (!r) return r.error();
    revoked = *r;
  }
  return *issued;
}

Result<std::filesystem::path> Authenticator::bootstrap_admin(
    const std::filesystem::path& data_dir) {
  admin_token_file_ = data_dir / "admin-token";
  auto count = store_.read<int64_t>([](StoreTx& tx) { return tx.count_tokens(); });
  if (!count) return count.error();
  if (*count > 0) return std::filesystem::path{};
  std::string secret = new_secret();
  if (secret.empty()) return Error{"INTERNAL", "RAND_bytes failed"};
  // File first: a crash before the insert leaves no token in the store, so the next start
  // writes a fresh file.
  if (auto r = write_secret_file(admin_token_file_, secret + "\n"); !r) return r.error();
  TokenRecord record = admin_record(hash(secret), "bootstrap admin token");
  WT_TRY(issued, insert(std::move(record), std::move(secret)));
  return admin_token_file_;
}

}  // namespace wiretag
