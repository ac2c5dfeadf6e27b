// Async HTTP/1.1 server on Boost.Beast: a listener accepting sessions, each
// do_read → on_read → send_response → on_write, keep-alive, a read timeout and a body limit.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "http/line_stream.h"
#include "http/router.h"
#include "wiretag/result.h"

namespace wiretag::http {

namespace beast_http = boost::beast::http;
using BeastRequest = beast_http::request<beast_http::string_body>;
using BeastResponse = beast_http::response<beast_http::string_body>;

struct ServerOptions {
  std::size_t body_limit = 1 << 20;  // SPEC §4: bodies over 1 MiB are refused
  std::chrono::seconds read_timeout{30};
};

// The pure part: a parsed request in, the response out (JSON, errors per SPEC §4). A
// streamed answer gives its head only.
BeastResponse respond(const Router& router, const BeastRequest& request);
// The same for routes that may answer later: `done` gets the response once, on any thread;
// for a streamed answer the response is the head (chunked) and `lines` its body.
void respond_async(const Router& router, const BeastRequest& request,
                   std::function<void(BeastResponse, std::shared_ptr<LineStream>)> done);

class Session;

class Server {
 public:
  Server(boost::asio::io_context& ioc, const Router& router, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 → the OS's choice).
  Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  // Starts accepting; sessions run on the io_context's threads.
  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish and ends
  // streamed answers after the lines already queued.
  void shutdown();
  // True when no connection is open any more.
  bool idle();

 private:
  friend class Session;
  void do_accept();
  void track(const std::shared_ptr<Session>& session);

  boost::asio::io_context& ioc_;
  const Router& router_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<Session>> sessions_;
  bool stopping_ = false;
};

}  // namespace wiretag::http
