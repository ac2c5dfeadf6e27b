// HTTP basic auth for the PAP API (seed 004, SPEC §4 Auth): users and passwords from a
// credentials file, one "user:password" a line. Nothing is compiled in: without
// --pap-credentials-file the server uses <data-dir>/pap-credentials, generating an admin
// credential there (mode 0600) on first start.
//
// A password is plain text, or hashed as
//   $pbkdf2-sha256$<iterations>$<salt hex>$<derived key hex>   (PBKDF2-HMAC-SHA256, 32 bytes)
//   $sha256$<salt hex>$<hex of SHA-256(salt bytes || password)>
// Blank lines and lines starting with '#' are ignored.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

// The WWW-Authenticate challenge of the PAP API's 401s.
inline constexpr std::string_view kPapChallenge = "Basic realm=\"wiretag PAP\"";

class PapCredentials {
 public:
  // INVALID_CREDENTIALS_FILE naming the line for a malformed file.
  static Result<PapCredentials> parse(std::string_view text);
  static Result<PapCredentials> load(const std::filesystem::path& file);
  // Loads <data_dir>/pap-credentials, creating it first with "admin:<random>" (mode 0600).
  // `created` says whether it was written now.
  static Result<PapCredentials> load_or_bootstrap(const std::filesystem::path& data_dir,
                                                  bool& created);
  // Every request is user "anonymous" (--insecure-no-auth).
  static PapCredentials insecure();

  // The user an "Authorization: Basic …" header (scheme in any case) names, when its password
  // matches; UNAUTHORIZED with kPapChallenge otherwise.
  Result<std::string> authenticate(std::string_view authorization_header) const;

  // "$pbkdf2-sha256$…" for the password (for operators writing a credentials file).
  static std::string hash_password(std::string_view password, int iterations = 100000);

  size_t size() const { return users_.size(); }

 private:
  bool insecure_ = false;
  std::map<std::string, std::string, std::less<>> users_;  // user → stored password
};

}  // namespace wiretag
