#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "http/json_input.h"
#include "wiretag/error_kind.h"

namespace wiretag::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// A streamed line longer than this is not a watch batch (1000 events) but a broken server.
constexpr size_t kMaxLine = 64u << 20;

bhttp::request<bhttp::string_body> make_request(const BaseUrl& base,
                                                const std::string& authorization,
                                                std::string_view method, std::string_view target,
                                                std::string_view body) {
  bhttp::request<bhttp::string_body> req{
      bhttp::string_to_verb(boost::beast::string_view(method.data(), method.size())),
      std::string(target), 11};
  req.set(bhttp::field::host, base.host + ":" + base.port);
  req.set(bhttp::field::user_agent, "wiretag");
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH" ||
      method == "DELETE") {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

}  // namespace

Result<nlohmann::json> ClientResponse::json() const {
  auto j = parse_json(body, kReceivedJsonLimits);
  if (!j)
    return Error{"INVALID_RESPONSE", "HTTP " + std::to_string(status) + " with a non-JSON body (" +
                                         j.error().message + ")"};
  return j;
}

std::string ClientResponse::error_code() const {
  auto parsed = parse_json(body, kReceivedJsonLimits);
  if (!parsed) return "";
  const nlohmann::json& j = *parsed;
  if (j.is_array() && !j.empty() && j[0].is_object() && j[0].contains("error_code") &&
      j[0]["error_code"].is_string())
    return j[0]["error_code"].get<std::string>();
  return "";
}

Result<BaseUrl> parse_base_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://", kHttps = "https://";
  const bool tls = url.starts_with(kHttps);
  if (!tls && !url.starts_with(kHttp))
    return Error{"INVALID_URL",
                 "\"" + std::string(url) + "\": expected http://HOST:PORT or https://HOST:PORT"};
  url.remove_prefix(tls ? kHttps.size() : kHttp.size());
  while (url.ends_with('/')) url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos)
    return Error{"INVALID_URL", "a server URL has no path: " + std::string(url)};
  size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == url.size())
    return Error{"INVALID_URL", "\"" + std::string(url) + "\": the port is missing"};
  BaseUrl out{std::string(url.substr(0, colon)), std::string(url.substr(colon + 1)), tls};
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(out.port) == 0 ||
      std::stoi(out.port) > 65535)
    return Error{"INVALID_URL", "\"" + std::string(url) + "\": bad host or port"};
  return out;
}

Client::Client(BaseUrl base, std::string bearer, std::shared_ptr<asio::ssl::context> tls)
    : base_(std::move(base)),
      authorization_(bearer.empty() ? std::string() : "Bearer " + bearer),
      tls_(std::move(tls)) {
  if (base_.tls && !tls_) {
    auto ctx = make_client_tls_context({});
    if (ctx) tls_ = *ctx;
  }
}

template <class F>
decltype(auto) Client::with_stream(F&& f) {
  if (tls_stream_) return f(*tls_stream_);
  return f(*stream_);
}

void Client::drop_connection() {
  tls_stream_.reset();
  stream_.reset();
}

void Client::set_basic_auth(std::string_view user_password) {
  std::string encoded(beast::detail::base64::encoded_size(user_password.size()), '\0');
  encoded.resize(
      beast::detail::base64::encode(encoded.data(), user_password.data(), user_password.size()));
  authorization_ = "Basic " + encoded;
}

Client::~Client() = default;

void Client::cancel() {
  cancelled_ = true;
  asio::post(ioc_, [this] {
    if (stream_) stream_->cancel();
    if (tls_stream_) beast::get_lowest_layer(*tls_stream_).cancel();
  });
}

void Client::run_until(std::chrono::steady_clock::time_point deadline) {
  ioc_.restart();
  ioc_.run_until(deadline + std::chrono::seconds(1));  // the stream's own timer fires first
}

Result<void> Client::connect(std::chrono::steady_clock::time_point deadline) {
  boost::system::error_code ec;
  tcp::resolver resolver(ioc_);
  auto endpoints = resolver.resolve(base_.host, base_.port, ec);
  if (ec)
    return Error{"SERVER_UNREACHABLE", "resolve " + base_.host + ": " + ec.message(), ec.value()};
  stream_.emplace(ioc_);
  stream_->expires_at(deadline);
  stream_->async_connect(endpoints,
                         [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
  run_until(deadline);
  if (cancelled_) ec = asio::error::operation_aborted;
  if (ec) {
    drop_connection();
    if (cancelled_) return Error{"CANCELLED", "request cancelled"};
    if (ec == beast::error::timeout)
      return Error{"TIMEOUT", "connect to " + base_.host + ":" + base_.port + " timed out"};
    return Error{"SERVER_UNREACHABLE",
                 "connect to " + base_.host + ":" + base_.port + ": " + ec.message(), ec.value()};
  }
  stream_->socket().set_option(tcp::no_delay(true), ec);
  if (base_.tls) return handshake(deadline);
  return Ok();
}

Result<void> Client::handshake(std::chrono::steady_clock::time_point deadline) {
  const std::string where = base_.host + ":" + base_.port;
  if (!tls_) return Error{"TLS_FAILED", "no TLS context for https://" + where};
  tls_stream_.emplace(std::move(*stream_), *tls_);
  stream_.reset();
  SSL* ssl = tls_stream_->native_handle();
  // The server must prove the name or address the URL gives.
  boost::system::error_code ec;
  asio::ip::make_address(base_.host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, base_.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, base_.host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl, base_.host.c_str());
  }
  beast::get_lowest_layer(*tls_stream_).expires_at(deadline);
  tls_stream_->async_handshake(asio::ssl::stream_base::client,
                               [&](boost::system::error_code e) { ec = e; });
  run_until(deadline);
  if (cancelled_) ec = asio::error::operation_aborted;
  if (ec) {
    long verify = SSL_get_verify_result(ssl);
    drop_connection();
    if (cancelled_) return Error{"CANCELLED", "request cancelled"};
    if (ec == beast::error::timeout)
      return Error{"TIMEOUT", "TLS handshake with " + where + " timed out"};
    std::string why = ec.message();
    if (verify != X509_V_OK) why += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    return Error{"TLS_FAILED", "TLS handshake with " + where + ": " + why};
  }
  return Ok();
}

Error Client::failure(boost::system::error_code ec, const std::string& what) const {
  if (cancelled_) return Error{"CANCELLED", "request cancelled"};
  if (ec == beast::error::timeout) return Error{"TIMEOUT", what + " timed out"};
  return Error{"CONNECTION_CLOSED", what + ": " + ec.message(), ec.value()};
}

Result<ClientResponse> Client::exchange(std::string_view method, std::string_view target,
                                        std::string_view body,
                                        std::chrono::steady_clock::time_point deadline) {
  auto req = make_request(base_, authorization_, method, target, body);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  boost::system::error_code ec;
  with_stream([&](auto& stream) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      if (e) return;
      bhttp::async_read(stream, buffer, parser,
                        [&](boost::system::error_code e2, size_t) { ec = e2; });
    });
  });
  run_until(deadline);
  if (cancelled_) ec = asio::error::operation_aborted;
  if (ec) {
    drop_connection();
    return failure(ec, std::string(method) + " " + std::string(target));
  }
  auto res = parser.release();
  if (!res.keep_alive()) drop_connection();
  return ClientResponse{res.result_int(), std::move(res.body())};
}

Result<ClientResponse> Client::stream_exchange(std::string_view target, const LineHandler& on_line,
                                               std::chrono::milliseconds idle, bool& answered) {
  const std::string what = "GET " + std::string(target);
  auto req = make_request(base_, authorization_, "GET", target, {});
  req.set(bhttp::field::accept, "application/x-ndjson");
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  boost::system::error_code ec;
  auto deadline = std::chrono::steady_clock::now() + idle;
  with_stream([&](auto& stream) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      if (e) return;
      bhttp::async_read_header(stream, buffer, parser,
                               [&](boost::system::error_code e2, size_t) { ec = e2; });
    });
  });
  run_until(deadline);
  if (cancelled_) ec = asio::error::operation_aborted;
  if (ec) {
    drop_connection();
    return failure(ec, what);
  }
  answered = true;
  const unsigned status = parser.get().result_int();

  if (!parser.chunked()) {
    // Not a stream: an error answer, read whole.
    parser.body_limit(64u << 20);
    if (!parser.is_done()) {
      deadline = std::chrono::steady_clock::now() + idle;
      with_stream([&](auto& stream) {
        beast::get_lowest_layer(stream).expires_at(deadline);
        bhttp::async_read(stream, buffer, parser,
                          [&](boost::system::error_code e, size_t) { ec = e; });
      });
      run_until(deadline);
    }
    if (cancelled_) ec = asio::error::operation_aborted;
    if (ec) {
      drop_connection();
      return failure(ec, what);
    }
    auto res = parser.release();
    if (!res.keep_alive()) drop_connection();
    return ClientResponse{status, std::move(res.body())};
  }

  // Chunk data is split into lines here instead of going into the body; a chunk may hold part
  // of a line or several.
  parser.body_limit(boost::none);
  std::string partial;
  bool stopped = false, too_long = false;
  auto on_chunk = [&](std::uint64_t, beast::string_view data, boost::system::error_code& e) {
    for (size_t i = 0; i < data.size() && !stopped;) {
      size_t nl = data.find('\n', i);
      size_t end = nl == beast::string_view::npos ? data.size() : nl;
      partial.append(data.data() + i, end - i);
      if (partial.size() > kMaxLine) {
        too_long = true;
        e = bhttp::error::body_limit;
        break;
      }
      if (nl == beast::string_view::npos) break;
      if (!on_line(partial)) stopped = true;
      partial.clear();
      i = nl + 1;
    }
    return data.size();
  };
  parser.on_chunk_body(on_chunk);
  while (!parser.is_done() && !stopped) {
    // The idle deadline starts again with each read: a stream may be quiet up to `idle`.
    deadline = std::chrono::steady_clock::now() + idle;
    with_stream([&](auto& stream) {
      beast::get_lowest_layer(stream).expires_at(deadline);
      bhttp::async_read_some(stream, buffer, parser,
                             [&](boost::system::error_code e, size_t) { ec = e; });
    });
    run_until(deadline);
    if (cancelled_) ec = asio::error::operation_aborted;
    if (ec) {
      drop_connection();
      if (too_long) return Error{"INVALID_RESPONSE", what + ": a streamed line over 64 MiB"};
      return failure(ec, what);
    }
  }
  if (stopped || !parser.get().keep_alive()) drop_connection();
  return ClientResponse{status, {}};
}

Result<ClientResponse> Client::request(std::string_view method, std::string_view target,
                                       std::string_view body, std::chrono::milliseconds timeout) {
  if (cancelled_) return Error{"CANCELLED", "request cancelled"};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool reused = stream_.has_value() || tls_stream_.has_value();
  if (!reused) {
    if (auto c = connect(deadline); !c) return c.error();
  }
  auto r = exchange(method, target, body, deadline);
  // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
  if (!r && reused && is(r.error(), ErrorKind::ConnectionClosed) &&
      std::chrono::steady_clock::now() < deadline) {
    if (auto c = connect(deadline); !c) return c.error();
    r = exchange(method, target, body, deadline);
  }
  if (!r && is(r.error(), ErrorKind::ConnectionClosed))
    return Error{"SERVER_UNREACHABLE", r.error().message, r.error().sys_errno};
  return r;
}

Result<ClientResponse> Client::stream(std::string_view target, const LineHandler& on_line,
                                      std::chrono::milliseconds idle) {
  if (cancelled_) return Error{"CANCELLED", "request cancelled"};
  const bool reused = stream_.has_value() || tls_stream_.has_value();
  if (!reused) {
    if (auto c = connect(std::chrono::steady_clock::now() + idle); !c) return c.error();
  }
  bool answered = false;
  auto r = stream_exchange(target, on_line, idle, answered);
  // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
  if (!r && reused && !answered && is(r.error(), ErrorKind::ConnectionClosed)) {
    if (auto c = connect(std::chrono::steady_clock::now() + idle); !c) return c.error();
    r = stream_exchange(target, on_line, idle, answered);
  }
  // Closed before any answer: as for request(), the server is not there (any more).
  if (!r && !answered && is(r.error(), ErrorKind::ConnectionClosed))
    return Error{"SERVER_UNREACHABLE", r.error().message, r.error().sys_errno};
  return r;
}

}  // namespace wiretag::http
