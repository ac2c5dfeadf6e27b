#include "server/policy_keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <optional>
#include <vector>

namespace wiretag {
namespace {

constexpr size_t kNonce = 12, kTag = 16;
// v2: this byte, then nonce || AES-256-GCM(zlib(policy JSON)) || tag.
constexpr unsigned char kFormatDeflated = 2;
// What a key may inflate to: more than any request body could have sealed.
constexpr size_t kMaxPolicyBytes = 4 << 20;
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

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Canonical unpadded base64url only, so that exactly one string names each key: no padding,
// no character outside the alphabet, no length of 1 mod 4, and the unused low bits of the
// last character zero (else several strings would decode to the same bytes).
bool unb64url(std::string_view in, std::vector<unsigned char>& out) {
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = b64_value(c);
    if (v < 0) return false;
    acc = ((acc << 6) | static_cast<uint32_t>(v)) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

Error invalid_key() {
  return Error{"INVALID_POLICY_KEY", "The policy key string supplied is not valid."};
}

// v1 keys (no format byte, JSON sealed as is) were issued before v2; they still open.
std::string aad(std::string_view account, int format) {
  return "wiretag-policy-key:v" + std::to_string(format) + ":" + std::string(account);
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// AES-256-GCM: nonce || ciphertext || tag into out (sized for them), nonce drawn here.
bool encrypt(const std::array<unsigned char, 32>& secret, const std::string& ad,
             const std::vector<unsigned char>& plain, unsigned char* out) {
  if (RAND_bytes(out, kNonce) != 1) return false;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  return ctx &&
         EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, secret.data(), out) == 1 &&
         EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(ad.data()),
                           static_cast<int>(ad.size())) == 1 &&
         EVP_EncryptUpdate(ctx.get(), out + kNonce, &len, plain.data(),
                           static_cast<int>(plain.size())) == 1 &&
         EVP_EncryptFinal_ex(ctx.get(), out + kNonce + len, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out + kNonce + plain.size()) ==
             1;
}

// The plaintext of nonce || ciphertext || tag, or nullopt when it is not genuine.
std::optional<std::vector<unsigned char>> decrypt(const std::array<unsigned char, 32>& secret,
                                                  const std::string& ad,
                                                  const unsigned char* sealed, size_t size) {
  if (size < kNonce + kTag) return std::nullopt;
  const size_t n = size - kNonce - kTag;
  std::vector<unsigned char> plain(n);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, secret.data(), sealed) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                        static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &len, sealed + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                          const_cast<unsigned char*>(sealed + kNonce + n)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1)
    return std::nullopt;
  return plain;
}

std::optional<std::vector<unsigned char>> deflate(std::string_view in) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  std::vector<unsigned char> out(size);
  if (compress2(out.data(), &size, reinterpret_cast<const Bytef*>(in.data()),
                static_cast<uLong>(in.size()), Z_BEST_COMPRESSION) != Z_OK)
    return std::nullopt;
  out.resize(size);
  return out;
}

// At most `limit` bytes inflated: a key opens to a policy of bounded size, whatever it holds.
std::optional<std::string> inflate_bounded(const std::vector<unsigned char>& in, size_t limit) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return std::nullopt;
  std::string out;
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  char chunk[16384];
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = ::inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > limit) rc = Z_MEM_ERROR;
  }
  const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
  inflateEnd(&z);
  if (!whole) return std::nullopt;
  return out;
}

}  // namespace

namespace {

// The secret in the file's first line; nullopt when there is no such file (or line).
Result<std::optional<std::array<unsigned char, 32>>> read_secret(
    const std::filesystem::path& path) {
  std::array<unsigned char, 32> secret{};
  std::ifstream in(path);
  std::string hex;
  if (!in || !std::getline(in, hex)) return std::optional<std::array<unsigned char, 32>>{};
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return Error{"SECRET_FILE", path.string() + ": expected 64 hex digits"};
  for (size_t i = 0; i < 32; ++i)
    secret[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return std::optional(secret);
}

}  // namespace

Result<PolicyKeySealer> PolicyKeySealer::open_file(const std::filesystem::path& file) {
  WT_TRY(secret, read_secret(file));
  if (!*secret) return Error{"SECRET_FILE", file.string() + ": no such file or it is empty"};
  return PolicyKeySealer(**secret);
}

Result<PolicyKeySealer> PolicyKeySealer::open(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "policy-key-secret";
  WT_TRY(existing, read_secret(path));
  if (*existing) return PolicyKeySealer(**existing);
  std::array<unsigned char, 32> secret{};
  std::string hex;
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
  auto deflated = deflate(plaintext);
  if (!deflated) return Error{"INTERNAL", "zlib compression failed"};
  std::vector<unsigned char> out(1 + kNonce + deflated->size() + kTag);
  out[0] = kFormatDeflated;
  if (!encrypt(secret_, aad(account, kFormatDeflated), *deflated, out.data() + 1))
    return Error{"INTERNAL", "AES-256-GCM encryption failed"};
  std::string key = b64url(out);
  if (key.size() > kMaxKeyChars)
    return Error{"POLICY_TOO_LARGE_FOR_KEY",
                 "this policy would make a key of " + std::to_string(key.size()) +
                     " characters; a policy key is at most " + std::to_string(kMaxKeyChars) +
                     " (store the policy with POST …/policies instead, or split it)"};
  return key;
}

Result<std::string> PolicyKeySealer::open_key(std::string_view account,
                                              std::string_view key) const {
  std::vector<unsigned char> raw;
  if (key.size() > kMaxKeyChars || !unb64url(key, raw) || raw.empty()) return invalid_key();
  // v2 starts with its format byte; a v1 key starts with its random nonce, which may be that
  // byte too: then it fails v2's authentication (another nonce and associated data).
  if (raw[0] == kFormatDeflated)
    if (auto sealed =
            decrypt(secret_, aad(account, kFormatDeflated), raw.data() + 1, raw.size() - 1)) {
      auto plain = inflate_bounded(*sealed, kMaxPolicyBytes);
      if (!plain) return invalid_key();
      return std::move(*plain);
    }
  auto plain = decrypt(secret_, aad(account, 1), raw.data(), raw.size());
  if (!plain) return invalid_key();
  return std::string(plain->begin(), plain->end());
}

}  // namespace wiretag
