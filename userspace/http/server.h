// Async HTTP/1.1 server on Boost.Beast: listeners (TCP, unix socket) accepting sessions, each
// do_read → on_header (framing checks, admission) → body → dispatch → send_response →
// on_write, keep-alive, a read timeout, header and body limits, and per-listener caps on
// connections and buffered body bytes.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
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
  // Request line and headers together; 64 KiB lets a URL carry a policy key of up to ~60 KiB.
  std::size_t header_limit = 64 << 10;
  std::chrono::seconds read_timeout{30};
  // Per listener. A connection over max_connections is accepted, answered 503 SERVER_BUSY
  // (Retry-After) at once without reading it, and closed.
  std::size_t max_connections = 1024;
  // Per listener: request bodies held at once. A request whose Content-Length does not fit in
  // what is left (a chunked body: once it grows past it) gets 503 SERVER_BUSY with
  // Retry-After and its connection is closed.
  std::size_t max_buffered_body_bytes = 64 << 20;
};

// The pure part: a parsed request in, the response out (JSON, errors per SPEC §4). A
// streamed answer gives its head only.
BeastResponse respond(const Router& router, const BeastRequest& request);
// The same for routes that may answer later: `done` gets the response once, on any thread;
// for a streamed answer the response is the head (chunked) and `lines` its body.
void respond_async(const Router& router, const BeastRequest& request,
                   std::function<void(BeastResponse, std::shared_ptr<LineStream>)> done);

class SessionBase;
class Listener;

class Server {
 public:
  Server(boost::asio::io_context& ioc, const Router& router, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 → the OS's choice).
  Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  // Listens on a unix domain socket at `path` with file mode `mode` (e.g. 0600). A stale
  // socket file there (nobody accepting) is replaced; a live one or another kind of file is
  // LISTEN_FAILED. Call it before other threads create files (the umask is set around bind).
  // The socket file is removed when the Server goes away.
  Result<void> listen_unix(const std::filesystem::path& path, mode_t mode);
  // Starts accepting on every listener; sessions run on the io_context's threads.
  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish and ends
  // streamed answers after the lines already queued.
  void shutdown();
  // True when no connection is open any more.
  bool idle();

 private:
  friend class Listener;
  template <class Stream>
  friend class Session;
  template <class Protocol>
  friend class SocketListener;

  void track(const std::shared_ptr<SessionBase>& session);
  bool stopping();
  void schedule_trim();

  boost::asio::io_context& ioc_;
  const Router& router_;
  ServerOptions options_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::mutex mutex_;
  std::vector<std::weak_ptr<SessionBase>> sessions_;
  bool stopping_ = false;
  // Gives freed memory back to the OS once the listeners hold no bodies (see schedule_trim).
  boost::asio::steady_timer trim_timer_;
};

}  // namespace wiretag::http
