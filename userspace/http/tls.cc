#include "http/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <string_view>

namespace wiretag::http {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kCellUriPrefix = "wiretag:cell:";

void modern_only(asio::ssl::context& ctx) {
  boost::system::error_code ec;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                  ec);
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const TlsClientFiles& files) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  modern_only(*ctx);
  boost::system::error_code ec;
  if (files.ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(files.ca_file, ec);
  if (ec) return Error{"TLS_FILE", "CA file " + files.ca_file + ": " + ec.message()};
  if (files.cert_file.empty() != files.key_file.empty())
    return Error{"TLS_FILE", "a client certificate needs both a certificate and a key file"};
  if (!files.cert_file.empty()) {
    ctx->use_certificate_chain_file(files.cert_file, ec);
    if (ec) return Error{"TLS_FILE", "certificate " + files.cert_file + ": " + ec.message()};
    ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
    if (ec) return Error{"TLS_FILE", "key " + files.key_file + ": " + ec.message()};
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const TlsServerFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty())
    return Error{"TLS_FILE", "a TLS listener needs both a certificate and a key file"};
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  modern_only(*ctx);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return Error{"TLS_FILE", "certificate " + files.cert_file + ": " + ec.message()};
  ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if (ec) return Error{"TLS_FILE", "key " + files.key_file + ": " + ec.message()};
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return Error{"TLS_FILE", "key " + files.key_file + " does not match " + files.cert_file};
  if (!files.client_ca_file.empty()) {
    ctx->load_verify_file(files.client_ca_file, ec);
    if (ec) return Error{"TLS_FILE", "client CA " + files.client_ca_file + ": " + ec.message()};
    // Ask for a certificate and verify one that is sent; a client without one may still
    // authenticate with a token.
    ctx->set_verify_mode(asio::ssl::verify_peer);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
  }
  return ctx;
}

std::optional<std::string> cell_of_certificate(X509* cert) {
  if (!cert) return std::nullopt;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::optional<std::string> out;
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !out; ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                            static_cast<size_t>(ASN1_STRING_length(uri)));
      if (text.starts_with(kCellUriPrefix) && text.size() > kCellUriPrefix.size())
        out = std::string(text.substr(kCellUriPrefix.size()));
    }
    GENERAL_NAMES_free(sans);
  }
  if (out) return out;
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                   static_cast<size_t>(ASN1_STRING_length(cn)));
  if (name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
  return name;
}

}  // namespace wiretag::http
