#include "server/policy_keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

namespace wiretag {
namespace {

constexpr size_t kNonce = 12, kTag = 16;
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url(const std::vector<unsigned char>& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = in[i] << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    for (int s = 18; s >= 6; s -= 6) out.push_back(kB64[(v >> s) & 63]);
  }
  return out;
}

bool unb64url(std::string_view in, std::vector<unsigned char>& out) {
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Error invalid_key() {
  return Error{"INVALID_POLICY_KEY", "The policy key string supplied is not valid."};
}

std::string aad(std::string_view account) {
  return "wiretag-policy-key:v1:" + std::string(account);
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

Result<PolicyKeySealer> PolicyKeySealer::open(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "policy-key-secret";
  std::array<unsigned char, 32> secret{};
  std::ifstream in(path);
  std::string hex;
  if (in && std::getline(in, hex)) {
    std::vector<unsigned char> bytes;
    if (hex.size() != 64) return Error{"SECRET_FILE", path.string() + ": expected 64 hex digits"};
    for (size_t i = 0; i < 32; ++i)
      secret[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return PolicyKeySealer(secret);
  }
  if (RAND_bytes(secret.data(), secret.size()) != 1) return Error{"INTERNAL", "RAND_bytes failed"};
  static constexpr char kHex[] = "0123456789abcdef";
  hex.clear();
  for (unsigned char b : secret) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  hex.push_back('\n');
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("SECRET_FILE", "create " + path.string(), errno);
  bool ok =
      ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Error{"SECRET_FILE", "cannot write " + path.string()};
  return PolicyKeySealer(secret);
}

Result<std::string> PolicyKeySealer::seal(std::string_view account,
                                          std::string_view plaintext) const {
  std::vector<unsigned char> out(kNonce + plaintext.size() + kTag);
  if (RAND_bytes(out.data(), kNonce) != 1) return Error{"INTERNAL", "RAND_bytes failed"};
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const std::string ad = aad(account);
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, secret_.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                        static_cast<int>(ad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          out.data() + kNonce + plaintext.size()) != 1)
    return Error{"INTERNAL", "AES-256-GCM encryption failed"};
  return b64url(out);
}

Result<std::string> PolicyKeySealer::open_key(std::string_view account,
                                              std::string_view key) const {
  std::vector<unsigned char> raw;
  if (!unb64url(key, raw) || raw.size() < kNonce + kTag) return invalid_key();
  const size_t n = raw.size() - kNonce - kTag;
  std::string plain(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const std::string ad = aad(account);
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, secret_.data(), raw.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                        static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                        raw.data() + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, raw.data() + kNonce + n) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) !=
          1)
    return invalid_key();
  return plain;
}

}  // namespace wiretag
