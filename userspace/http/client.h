// A small synchronous HTTP/1.1 client on Beast: one keep-alive connection to one server,
// a deadline per request, streamed answers read line by line, and cancel() from another
// thread (to interrupt a long-poll or a stream). Used by the agent to talk to the policy
// server, and by benches and tests.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/tls.h"
#include "wiretag/result.h"

namespace wiretag::http {

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  // The body as JSON; INVALID_RESPONSE when it is not.
  Result<nlohmann::json> json() const;
  // The error_code of a SPEC §4 error body, or "".
  std::string error_code() const;
};

struct BaseUrl {
  std::string host;
  std::string port;
  bool tls = false;  // https://
};
// "http://HOST:PORT[/]" or "https://HOST:PORT[/]" → host, port and scheme; INVALID_URL
// otherwise.
Result<BaseUrl> parse_base_url(std::string_view url);

class Client {
 public:
  // bearer: sent as "Authorization: Bearer <bearer>" when not empty. An https base uses
  // `tls` (the system's CAs when null); the server's name or address is verified.
  Client(BaseUrl base, std::string bearer = {},
         std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  // Sends "Authorization: Basic …" of "user:password" instead (the PAP API); not thread-safe
  // with requests in flight.
  void set_basic_auth(std::string_view user_password);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request on the kept-alive connection (connecting, or reconnecting once when
  // the server closed it meanwhile). SERVER_UNREACHABLE on connection errors, TIMEOUT when
  // the deadline passes, CANCELLED after cancel(). Any HTTP status is a successful result.
  Result<ClientResponse> request(std::string_view method, std::string_view target,
                                 std::string_view body = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // GETs a streamed answer (chunked NDJSON: the watch with stream=1) on the kept-alive
  // connection and calls on_line with each complete line, without its "\n", as it arrives:
  // until the server ends the stream (then the result is its status, the body empty) or
  // on_line returns false (the connection is then dropped: the stream goes on). An answer
  // that is not chunked (an error) is returned whole, on_line not called.
  // Errors: TIMEOUT when no byte arrives for `idle` (a stream that sends heartbeats is dead
  // then), CANCELLED after cancel(), SERVER_UNREACHABLE when no answer comes,
  // CONNECTION_CLOSED when the server cuts the stream short (it does to a client that falls
  // too far behind), INVALID_RESPONSE for a line over 64 MiB.
  using LineHandler = std::function<bool(std::string_view line)>;
  Result<ClientResponse> stream(std::string_view target, const LineHandler& on_line,
                                std::chrono::milliseconds idle);

  // Thread-safe and final: aborts the request or stream in progress (if any) and every later
  // one with CANCELLED. For stopping a thread that waits in a long-poll or a stream.
  void cancel();

 private:
  Result<void> connect(std::chrono::steady_clock::time_point deadline);
  Result<void> handshake(std::chrono::steady_clock::time_point deadline);
  Result<ClientResponse> exchange(std::string_view method, std::string_view target,
                                  std::string_view body,
                                  std::chrono::steady_clock::time_point deadline);
  // One stream() attempt; answered: the head came (so the request must not be retried).
  Result<ClientResponse> stream_exchange(std::string_view target, const LineHandler& on_line,
                                         std::chrono::milliseconds idle, bool& answered);
  // Calls f with the connected stream, TLS or plain.
  template <class F>
  decltype(auto) with_stream(F&& f);
  void drop_connection();
  // The error for a failed operation: CANCELLED, TIMEOUT or CONNECTION_CLOSED with `what`.
  Error failure(boost::system::error_code ec, const std::string& what) const;
  void run_until(std::chrono::steady_clock::time_point deadline);

  BaseUrl base_;
  std::string authorization_;  // the Authorization header's value, or empty
  boost::asio::io_context ioc_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::optional<boost::beast::tcp_stream> stream_;  // a plain connection
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace wiretag::http
