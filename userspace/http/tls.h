// TLS contexts for wiretag's listeners and clients (OpenSSL through asio::ssl), and the cell
// identity a client certificate carries.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "wiretag/result.h"

typedef struct x509_st X509;

namespace wiretag::http {

// What a client trusts and, for mutual TLS, presents. Empty ca_file: the system's CAs.
struct TlsClientFiles {
  std::string ca_file = {};    // PEM bundle of the CAs that may sign the server's certificate
  std::string cert_file = {};  // PEM client certificate (mTLS), with key_file
  std::string key_file = {};
};
// A client context: TLS 1.2 or later, the server's certificate verified. TLS_FILE names the
// file that could not be used.
Result<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    const TlsClientFiles& files);

// What a listener serves and, for mutual TLS, which CA signs the clients it believes.
struct TlsServerFiles {
  std::string cert_file;       // PEM certificate chain
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // empty: no client certificates asked for
};
// A server context: TLS 1.2 or later; with a client CA, a client certificate is asked for and,
// when one is sent, verified against that CA (a client without one may still use a token).
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const TlsServerFiles& files);

// The cell a verified client certificate names: its SAN URI "wiretag:cell:NAME", else its
// subject CN. nullopt when it names none.
std::optional<std::string> cell_of_certificate(X509* cert);

}  // namespace wiretag::http
