#include "server/pap_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "http/authorization.h"

namespace wiretag {
namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (char c : hex.substr(i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    out.emplace_back(s.substr(i, j == std::string_view::npos ? s.size() - i : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t pad = (in.back() == '=') + (in.size() > 1 && in[in.size() - 2] == '=');
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// A stored password is well-formed (checked when the file is read).
bool well_formed(std::string_view stored) {
  if (stored.empty()) return false;
  if (stored[0] != '$') return true;
  auto parts = split(stored, '$');  // "", scheme, …
  if (parts.size() == 5 && parts[1] == "pbkdf2-sha256") {
    const std::string& it = parts[2];
    return !it.empty() && it.size() <= 9 &&
           it.find_first_not_of("0123456789") == std::string::npos && std::stol(it) > 0 &&
           from_hex(parts[3]) && from_hex(parts[4]) && parts[4].size() == 64;
  }
  if (parts.size() == 4 && parts[1] == "sha256")
    return from_hex(parts[2]) && from_hex(parts[3]) && parts[3].size() == 64;
  return false;
}

bool verify(std::string_view stored, std::string_view password) {
  if (stored.empty()) return false;
  if (stored[0] != '$') return equal_constant_time(stored, password);
  auto parts = split(stored, '$');
  unsigned char out[32];
  if (parts.size() == 5 && parts[1] == "pbkdf2-sha256") {
    auto salt = from_hex(parts[3]);
    if (!salt) return false;
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt->data()),
                          static_cast<int>(salt->size()), std::stoi(parts[2]), EVP_sha256(),
                          sizeof out, out) != 1)
      return false;
    return equal_constant_time(to_hex(out, sizeof out), parts[4]);
  }
  if (parts.size() == 4 && parts[1] == "sha256") {
    auto salt = from_hex(parts[2]);
    if (!salt) return false;
    std::string input = *salt + std::string(password);
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), out, &len, EVP_sha256(), nullptr);
    return equal_constant_time(to_hex(out, len), parts[3]);
  }
  return false;
}

Result<void> write_secret_file(const std::filesystem::path& path, const std::string& content) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("CREDENTIALS_FILE", "open " + tmp, errno);
  ::fchmod(fd, 0600);
  ssize_t n = ::write(fd, content.data(), content.size());
  int err = errno;
  if (n != static_cast<ssize_t>(content.size()) || ::fsync(fd) != 0) {
    ::close(fd);
    return Error::from_errno("CREDENTIALS_FILE", "write " + tmp, n < 0 ? err : EIO);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::from_errno("CREDENTIALS_FILE", "rename to " + path.string(), errno);
  return Ok();
}

}  // namespace

Result<PapCredentials> PapCredentials::parse(std::string_view text) {
  PapCredentials c;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || !well_formed(line.substr(colon + 1)))
      return Error{"INVALID_CREDENTIALS_FILE",
                   "line " + std::to_string(number) +
                       ": expected user:password (plain, $pbkdf2-sha256$… or $sha256$…)"};
    c.users_[line.substr(0, colon)] = line.substr(colon + 1);
  }
  if (c.users_.empty())
    return Error{"INVALID_CREDENTIALS_FILE", "no user:password line in the credentials file"};
  return c;
}

Result<PapCredentials> PapCredentials::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return Error{"INVALID_CREDENTIALS_FILE", "cannot read " + file.string()};
  std::stringstream text;
  text << in.rdbuf();
  auto c = parse(text.str());
  if (!c) return Error{c.error().code, file.string() + ": " + c.error().message};
  return c;
}

Result<PapCredentials> PapCredentials::load_or_bootstrap(const std::filesystem::path& data_dir,
                                                         bool& created) {
  const auto path = data_dir / "pap-credentials";
  created = false;
  if (!std::filesystem::exists(path)) {
    unsigned char raw[18];
    if (RAND_bytes(raw, sizeof raw) != 1) return Error{"INTERNAL", "RAND_bytes failed"};
    if (auto r = write_secret_file(path, "admin:" + to_hex(raw, sizeof raw) + "\n"); !r)
      return r.error();
    created = true;
  }
  return load(path);
}

PapCredentials PapCredentials::insecure() {
  PapCredentials c;
  c.insecure_ = true;
  return c;
}

Result<std::string> PapCredentials::authenticate(std::string_view header) const {
  if (insecure_) return std::string("anonymous");
  Error denied{"UNAUTHORIZED", "HTTP basic auth with a PAP user is required", 0,
               std::string(kPapChallenge)};
  auto credentials = http::credentials_for(header, "Basic");
  if (!credentials) return denied;
  auto decoded = base64_decode(*credentials);
  if (!decoded) return denied;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return denied;
  std::string_view user = std::string_view(*decoded).substr(0, colon);
  std::string_view password = std::string_view(*decoded).substr(colon + 1);
  auto it = users_.find(user);
  if (it == users_.end() || !verify(it->second, password))
    return Error{"UNAUTHORIZED", "wrong PAP user or password", 0, std::string(kPapChallenge)};
  return std::string(user);
}

std::string PapCredentials::hash_password(std::string_view password, int iterations) {
  unsigned char salt[16], out[32];
  RAND_bytes(salt, sizeof salt);
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, sizeof salt,
                    iterations, EVP_sha256(), sizeof out, out);
  return "$pbkdf2-sha256$" + std::to_string(iterations) + "$" + to_hex(salt, sizeof salt) + "$" +
         to_hex(out, sizeof out);
}

}  // namespace wiretag
