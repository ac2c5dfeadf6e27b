#include "http/server.h"

#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstring>
#include <sstream>
#include <type_traits>

#include "common/log.h"
#include "http/listen_address.h"
#include "http/tls.h"

namespace wiretag::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using RequestHeader = beast_http::request_header<>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

// Bytes freed since the last malloc_trim() that make the next one worth its cost.
constexpr size_t kTrimThreshold = 8 << 20;
// What a closed connection is counted as freeing besides its read buffer.
constexpr size_t kSessionFootprint = 4096;

Method method_of(beast_http::verb v) {
  switch (v) {
    case beast_http::verb::get:
      return Method::Get;
    case beast_http::verb::post:
      return Method::Post;
    case beast_http::verb::put:
      return Method::Put;
    case beast_http::verb::patch:
      return Method::Patch;
    case beast_http::verb::delete_:
      return Method::Delete;
    case beast_http::verb::head:
      return Method::Head;
    default:
      return Method::Other;
  }
}

// `head_only`: the answer to a HEAD request, which has no content (RFC 9110 §9.3.2). It gets
// no Content-Length either (that would be the length GET gets), so it ends the connection.
BeastResponse make_response(const Reply& reply, unsigned version, bool keep_alive,
                            bool head_only = false) {
  BeastResponse res{static_cast<beast_http::status>(reply.status), version};
  res.set(beast_http::field::server, "wiretag-server");
  res.set(beast_http::field::content_type, "application/json");
  for (const auto& [name, value] : reply.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (reply.lines) {
    res.chunked(true);  // the head only: the lines follow as chunks
    return res;
  }
  res.body() = reply.serialized
                   ? *reply.serialized
                   : reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  if (head_only) {
    res.body().clear();
    res.erase(beast_http::field::content_length);
    res.keep_alive(false);
  }
  return res;
}

Reply server_busy(std::string message) {
  Reply reply = error_reply(Error{"SERVER_BUSY", std::move(message)});
  reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

// The request's head as the router sees it, everything but the body; `path` is the target as
// sent when it does not split (then *split holds why).
Request head_of(const RequestHeader& head, Result<void>* split) {
  Request req;
  req.method = method_of(head.method());
  const std::string_view target(head.target().data(), head.target().size());
  *split = split_target(target, req.path, req.query);
  if (!*split) req.path = std::string(target);
  if (auto it = head.find(beast_http::field::authorization); it != head.end())
    req.authorization = std::string(it->value());
  for (const auto& field : head) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[std::move(name)] = std::string(field.value());
  }
  return req;
}

// The head for routing: an error when its target does not split.
Result<Request> request_head(const RequestHeader& head) {
  Result<void> split = Ok();
  Request req = head_of(head, &split);
  if (!split) return split.error();
  return req;
}

// RFC 9112: an HTTP/1.1 request names its Host (§3.2), and chunked is the only transfer coding
// this server decodes; with any other the body's length is unknown, so it cannot be skipped.
Result<void> check_framing(const RequestHeader& head) {
  if (head.version() >= 11 && head.find(beast_http::field::host) == head.end())
    return Error{"MISSING_HOST", "an HTTP/1.1 request needs a Host header"};
  std::vector<std::string> codings;
  for (const auto& field : head) {
    if (field.name() != beast_http::field::transfer_encoding) continue;
    for (auto coding : beast_http::token_list{field.value()})
      codings.emplace_back(coding.data(), coding.size());
    if (codings.empty()) codings.emplace_back();
  }
  if (codings.empty()) return Ok();
  if (codings.size() == 1 && beast::iequals(codings[0], "chunked")) return Ok();
  for (const std::string& c : codings)
    if (!beast::iequals(c, "chunked"))
      return Error{"UNSUPPORTED_TRANSFER_ENCODING",
                   "transfer coding \"" + c + "\" is not supported; only chunked is"};
  return Error{"UNSUPPORTED_TRANSFER_ENCODING", "chunked may be applied once only"};
}

bool expects_continue(const RequestHeader& head) {
  auto it = head.find(beast_http::field::expect);
  return head.version() >= 11 && it != head.end() && beast::iequals(it->value(), "100-continue");
}

void dispatch_request(const Router& router, Request req, unsigned version, bool keep_alive,
                      std::function<void(BeastResponse, std::shared_ptr<LineStream>)> done) {
  const bool head_only = req.method == Method::Head;
  router.dispatch(std::move(req), [done = std::move(done), version, keep_alive,
                                   head_only](Reply reply) {
    if (reply.lines && version < 11) {
      // HTTP/1.0 has no chunked coding to carry a stream in.
      reply.lines->close(LineStream::End::ClientGone);
      return done(
          make_response(error_reply(Error{"BAD_REQUEST", "a streamed answer needs HTTP/1.1"}),
                        version, false),
          nullptr);
    }
    std::shared_ptr<LineStream> lines = reply.lines;
    done(make_response(reply, version, keep_alive, head_only), std::move(lines));
  });
}

// Read-side events are logged at most once per interval, with how many there were.
class LogThrottle {
 public:
  // True when a line is due now; `count` is then the events since the last line.
  bool due(size_t& count) {
    ++pending_;
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(1)) return false;
    logged_ = true;
    last_ = now;
    count = pending_;
    pending_ = 0;
    return true;
  }

 private:
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_;
  size_t pending_ = 0;
};

}  // namespace

// What one listener lets its connections hold. Shared with its sessions, which may outlive
// the Server by a little (handlers destroyed with the io_context).
struct ListenerBudget {
  explicit ListenerBudget(const ServerOptions& o)
      : max_connections(o.max_connections), max_buffered(o.max_buffered_body_bytes) {}

  bool reserve(size_t n) {
    size_t held = buffered.load();
    do {
      if (n > max_buffered - std::min(held, max_buffered)) return false;
    } while (!buffered.compare_exchange_weak(held, held + n));
    return true;
  }
  void release(size_t n) {
    buffered -= n;
    freed += n;
  }

  const size_t max_connections;
  const size_t max_buffered;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> buffered{0};
  std::atomic<size_t> freed{0};  // bytes given back since the last malloc_trim()
};

void respond_async(const Router& router, const BeastRequest& request,
                   std::function<void(BeastResponse, std::shared_ptr<LineStream>)> done) {
  auto req = request_head(request);
  if (!req)
    return done(make_response(error_reply(req.error()), request.version(), request.keep_alive()),
                nullptr);
  req->body = request.body();
  dispatch_request(router, std::move(*req), request.version(), request.keep_alive(),
                   std::move(done));
}

BeastResponse respond(const Router& router, const BeastRequest& request) {
  auto out = std::make_shared<std::optional<BeastResponse>>();
  respond_async(router, request, [out](BeastResponse res, std::shared_ptr<LineStream> lines) {
    if (lines) lines->close(LineStream::End::ClientGone);  // nobody to send them to
    *out = std::move(res);
  });
  if (!*out)
    return make_response(
        error_reply(Error{"ASYNC_ROUTE", "this route answers later; use respond_async()"}),
        request.version(), request.keep_alive());
  return std::move(**out);
}

// What the Server keeps of a connection, whatever its stream.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes the connection now if it is waiting for a request, else after the response; a
  // streamed response ends after the lines already queued.
  virtual void close_when_idle() = 0;
};

// One connection over Stream: beast::tcp_stream, a unix socket's basic_stream, or (with a
// handshake before the first read) a TLS stream over either. Timeouts and closing go through
// the lowest layer; reads and writes through the stream itself.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream&& stream, Server& server, std::shared_ptr<ListenerBudget> budget)
      : stream_(std::move(stream)), server_(server), budget_(std::move(budget)) {}
  ~Session() override {
    if (lines_) lines_->close(LineStream::End::ClientGone);
    parser_.reset();
    release_body();
    budget_->freed += buffer_.capacity() + kSessionFootprint;
    --budget_->connections;
  }

  // A TLS session does its handshake here before the first do_read(), and an async_shutdown
  // in do_close(); everything else is the same for every stream.
  void run() {
    if constexpr (kTls)
      asio::dispatch(stream_.get_executor(),
                     beast::bind_front_handler(&Session::do_handshake, self()));
    else
      asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, self()));
  }

  void close_when_idle() override {
    asio::post(stream_.get_executor(), [self = self()] {
      self->closing_ = true;
      if (self->reading_) self->lowest().cancel();
      if (self->lines_) self->lines_->finish(LineStream::End::Shutdown);
    });
  }

 private:
  // Lines gathered into one write when a stream has several queued.
  static constexpr size_t kLinesPerWrite = 64;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // TLS first, within the read timeout; then, with mutual TLS, who the client is.
  void do_handshake() {
    lowest().expires_after(options().read_timeout);
    reading_ = true;
    stream_.async_handshake(asio::ssl::stream_base::server,
                            beast::bind_front_handler(&Session::on_handshake, self()));
  }

  void on_handshake(beast::error_code ec) {
    reading_ = false;
    if (ec) {
      if (ec.category() == asio::error::get_ssl_category() &&
          ERR_GET_REASON(ec.value()) == SSL_R_HTTP_REQUEST)
        return refuse_plain_http();
      spdlog::debug("http: TLS handshake failed: {}", ec.message());
      return do_close();
    }
    SSL* ssl = stream_.native_handle();
#if OPENSSL_VERSION_MAJOR >= 3
    X509* cert = SSL_get1_peer_certificate(ssl);
#else
    X509* cert = SSL_get_peer_certificate(ssl);
#endif
    if (cert) {
      if (SSL_get_verify_result(ssl) == X509_V_OK)
        peer_cell_ = cell_of_certificate(cert).value_or("");
      X509_free(cert);
    }
    do_read();
  }

  // Plain HTTP sent to a TLS port: say so in plain HTTP, then close.
  void refuse_plain_http() {
    static const std::string answer = [] {
      std::ostringstream out;
      out << make_response(error_reply(Error{"TLS_REQUIRED",
                                             "this port speaks HTTPS; use https:// (plain HTTP "
                                             "is not served here)"}),
                           11, false);
      return out.str();
    }();
    beast::error_code ec;
    lowest().socket().non_blocking(true, ec);
    lowest().socket().write_some(asio::buffer(answer), ec);
    do_close();
  }

  std::shared_ptr<Session> self() { return this->shared_from_this(); }
  auto& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& options() const { return server_.options_; }

  // The head first: a request is checked and admitted before its body is read, so a refused
  // one never costs body memory.
  void do_read() {
    if (closing_) return do_close();
    lines_.reset();
    stream_done_ = false;
    parser_.reset();
    release_body();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();  // an idle connection holds no buffer
    parser_.emplace();
    parser_->header_limit(options().header_limit);
    parser_->body_limit(options().body_limit);
    lowest().expires_after(options().read_timeout);
    reading_ = true;
    beast_http::async_read_header(stream_, buffer_, *parser_,
                                  beast::bind_front_handler(&Session::on_header, self()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    reading_ = false;
    if (read_failed(ec)) return;
    const RequestHeader& head = parser_->get();
    version_ = head.version();
    request_keep_alive_ = parser_->keep_alive();
    const bool body_pending = !parser_->is_done();
    if (auto framing = check_framing(head); !framing)
      return refuse(error_reply(framing.error()), true);
    auto req = request_head(head);
    if (!req) return refuse(error_reply(req.error()), body_pending);
    req->peer_cell = peer_cell_;
    if (auto refusal = server_.router_.admission(*req)) {
      spdlog::debug("http: refused before the body: {} {}", std::string(head.method_string()),
                    req->path);
      return refuse(*refusal, body_pending);
    }
    head_ = std::move(*req);
    if (!body_pending) return dispatch();
    if (auto length = parser_->content_length(); length && !hold(*length))
      return refuse(server_busy("too many request bodies in progress; retry later"), true);
    if (expects_continue(head)) return send_continue();
    read_body();
  }

  // The body's memory counts against the listener's budget: all of a Content-Length at once
  // (the parser reserves it), a chunked body as it grows.
  bool hold(size_t bytes) {
    if (!budget_->reserve(bytes)) return false;
    reserved_ += bytes;
    return true;
  }

  void release_body() {
    if (reserved_ == 0) return;
    budget_->release(reserved_);
    reserved_ = 0;
  }

  void send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = self()](beast::error_code ec, std::size_t) {
                        if (ec) return self->do_close();
                        self->read_body();
                      });
  }

  void read_body() {
    reading_ = true;
    beast_http::async_read_some(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_body, self()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    reading_ = false;
    if (read_failed(ec)) return;
    const size_t held = parser_->get().body().capacity();
    if (held > reserved_ && !hold(held - reserved_))
      return refuse(server_busy("too many request bodies in progress; retry later"), true);
    if (!parser_->is_done()) return read_body();
    dispatch();
  }

  // Handles a failed read; false when there was none.
  bool read_failed(beast::error_code ec) {
    if (!ec) return false;
    if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message ||
        ec == asio::error::operation_aborted || ec == beast::error::timeout) {
      do_close();
      return true;
    }
    if (ec == beast_http::error::body_limit) {
      // The rest of the body is still on the wire: answer, then close the connection.
      refuse(error_reply(Error{"BODY_TOO_LARGE", "request body exceeds 1 MiB"}), true);
      return true;
    }
    spdlog::debug("http: bad request from client: {}", ec.message());
    refuse(error_reply(Error{"BAD_REQUEST", "malformed HTTP request: " + ec.message()}), true);
    return true;
  }

  // Answers without (the rest of) the body; `close`: the connection cannot be reused (a body
  // is still on the wire, or its framing is not understood) and is closed after the answer.
  void refuse(Reply reply, bool close) {
    const bool header_done = parser_ && parser_->is_header_done();
    const unsigned version = header_done ? version_ : 11;
    const bool head_only = header_done && parser_->get().method() == beast_http::verb::head;
    // A Content-Length past the limit fails the head's last step, its fields already read.
    if (parser_ && (header_done || !parser_->get().target().empty())) {
      // Dressed as the API the path belongs to dresses its answers (Router::dress); a target
      // that does not split is matched as sent.
      Result<void> split = Ok();
      server_.router_.finish(head_of(parser_->get(), &split), reply);
    }
    parser_.reset();
    release_body();
    linger_ = close;
    send_response(make_response(reply, version, !close && request_keep_alive_, head_only));
  }

  void dispatch() {
    // No read timeout while the handler works: a long poll may answer minutes later.
    lowest().expires_never();
    Request req = std::move(head_);
    req.body = std::move(parser_->get().body());
    dispatch_request(server_.router_, std::move(req), version_, request_keep_alive_,
                     [self = self()](BeastResponse res, std::shared_ptr<LineStream> lines) {
                       auto shared = std::make_shared<BeastResponse>(std::move(res));
                       asio::post(self->stream_.get_executor(), [self, shared, lines] {
                         if (lines) return self->start_stream(std::move(*shared), lines);
                         self->send_response(std::move(*shared));
                       });
                     });
  }

  void send_response(BeastResponse response) {
    response_ = std::make_shared<BeastResponse>(std::move(response));
    lowest().expires_after(options().read_timeout);
    beast_http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Session::on_write, self(), response_->need_eof()));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec) return do_close();
    if (linger_) return do_linger_close();
    if (close) return do_close();
    do_read();
  }

  // A streamed answer: the head, then each line as a chunk as the route pushes it, then the
  // last chunk. Meanwhile the connection is read too, so a client that goes away ends the
  // stream at once instead of at the next line the server fails to write.
  void start_stream(BeastResponse head, std::shared_ptr<LineStream> lines) {
    lines_ = std::move(lines);
    if (closing_) lines_->finish(LineStream::End::Shutdown);
    response_ = std::make_shared<BeastResponse>(std::move(head));
    keep_alive_ = response_->keep_alive();
    head_writer_.emplace(*response_);
    lowest().expires_after(options().read_timeout);
    beast_http::async_write_header(stream_, *head_writer_,
                                   beast::bind_front_handler(&Session::on_head_written, self()));
  }

  void on_head_written(beast::error_code ec, std::size_t) {
    head_writer_.reset();
    response_.reset();
    if (ec) return abort_stream();
    watch_peer();
    lines_->attach([weak = this->weak_from_this()] {
      if (auto self = weak.lock())
        asio::post(self->stream_.get_executor(), [self] { self->send_lines(); });
    });
  }

  // While streaming, a read completes only when the client sends (a pipelined request, kept
  // for after the stream), closes or resets the connection.
  void watch_peer() {
    if (closed_) return;
    peer_reading_ = true;
    lowest().expires_never();  // a quiet client is normal here; only writes have a deadline
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::on_peer_read, self()));
  }

  void on_peer_read(beast::error_code ec, std::size_t n) {
    peer_reading_ = false;
    if (closed_) return;
    if (!ec) {
      buffer_.commit(n);
      if (buffer_.size() > options().body_limit) return abort_stream();
      if (stream_done_) return do_read();
      return watch_peer();
    }
    // Cancelled by on_stream_complete() so the next request can be read.
    if (ec == asio::error::operation_aborted && stream_done_) return do_read();
    abort_stream();
  }

  void send_lines() {
    if (closed_ || stream_done_ || !lines_) return;
    if (lines_->aborted()) return do_close();
    if (writing_lines_) return;
    LineStream::Batch batch = lines_->take(kLinesPerWrite);
    if (batch.abort) return do_close();
    if (batch.lines.empty() && !batch.last) return;
    in_flight_ = std::move(batch.lines);
    in_flight_bytes_ = 0;
    chunks_.clear();
    buffers_.clear();
    for (const auto& line : in_flight_) {
      chunks_.push_back(beast_http::make_chunk(
          std::array<asio::const_buffer, 2>{asio::buffer(*line), asio::buffer("\n", 1)}));
      in_flight_bytes_ += line->size() + 1;
    }
    for (const auto& chunk : chunks_)
      for (asio::const_buffer b : beast::buffers_range_ref(chunk)) buffers_.push_back(b);
    if (batch.last) {
      last_chunk_.emplace(beast_http::make_chunk_last());
      for (asio::const_buffer b : beast::buffers_range_ref(*last_chunk_)) buffers_.push_back(b);
    }
    writing_lines_ = true;
    // A client that reads nothing for this long is gone (or too slow to follow).
    lowest().expires_after(options().read_timeout);
    asio::async_write(stream_, buffers_,
                      beast::bind_front_handler(&Session::on_lines_written, self(), batch.last));
  }

  void on_lines_written(bool last, beast::error_code ec, std::size_t) {
    writing_lines_ = false;
    if (lines_) lines_->written(in_flight_bytes_);
    in_flight_.clear();
    chunks_.clear();
    buffers_.clear();
    last_chunk_.reset();
    if (closed_) return;
    if (ec) return abort_stream();
    if (last) return on_stream_complete();
    send_lines();
  }

  void on_stream_complete() {
    stream_done_ = true;
    if (closing_ || !keep_alive_) return do_close();
    if (peer_reading_) return lowest().cancel();  // on_peer_read() goes on with do_read()
    do_read();
  }

  void abort_stream() {
    if (lines_) lines_->close(LineStream::End::ClientGone);
    do_close();
  }

  void do_close() {
    closed_ = true;
    beast::error_code ec;
    lowest().socket().shutdown(asio::socket_base::shutdown_send, ec);
    lowest().socket().close(ec);
  }

  // After refusing a request whose body is still arriving: stop sending, and read what the
  // client still sends until it closes, so closing does not reset the connection (which
  // could destroy our error response before the client reads it).
  void do_linger_close() {
    beast::error_code ec;
    lowest().socket().shutdown(asio::socket_base::shutdown_send, ec);
    lowest().expires_after(std::chrono::seconds(5));
    buffer_.clear();
    buffer_.shrink_to_fit();
    lowest().async_read_some(asio::buffer(discard_),
                             beast::bind_front_handler(&Session::on_drain, self()));
  }

  void on_drain(beast::error_code ec, std::size_t) {
    if (ec) return do_close();
    lowest().async_read_some(asio::buffer(discard_),
                             beast::bind_front_handler(&Session::on_drain, self()));
  }

  using Chunk = beast_http::chunk_body<std::array<asio::const_buffer, 2>>;

  // What lingering connections read and throw away: one sink for all of them.
  static inline std::array<char, 65536> discard_;

  Stream stream_;
  Server& server_;
  std::shared_ptr<ListenerBudget> budget_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  Request head_;  // the request being read, admitted, without its body yet
  std::string peer_cell_;  // the cell a verified client certificate names (mutual TLS)
  unsigned version_ = 11;
  bool request_keep_alive_ = true;
  size_t reserved_ = 0;  // bytes of the budget this request's body holds
  std::shared_ptr<BeastResponse> response_;
  bool linger_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool closed_ = false;

  // A streamed answer in progress.
  std::shared_ptr<LineStream> lines_;
  std::optional<beast_http::response_serializer<beast_http::string_body>> head_writer_;
  std::vector<std::shared_ptr<const std::string>> in_flight_;  // held until written
  size_t in_flight_bytes_ = 0;
  std::vector<Chunk> chunks_;
  std::optional<beast_http::chunk_last<beast_http::chunk_crlf>> last_chunk_;
  std::vector<asio::const_buffer> buffers_;
  bool keep_alive_ = true;
  bool writing_lines_ = false;
  bool peer_reading_ = false;
  bool stream_done_ = false;
};

// An accept loop and the budget of the connections it accepts.
class Listener {
 public:
  Listener(Server& server, std::string name)
      : server_(server),
        name_(std::move(name)),
        budget_(std::make_shared<ListenerBudget>(server.options_)) {}
  virtual ~Listener() = default;

  virtual void accept() = 0;
  // Stops accepting (from any thread).
  virtual void close() = 0;
  const ListenerBudget& budget() const { return *budget_; }
  ListenerBudget& budget() { return *budget_; }

 protected:
  // After a failed accept: true to accept again now; false when a retry is scheduled. Out of
  // descriptors or memory the pending connection stays queued and every retry would fail at
  // once, so retries back off (50 ms doubling to 1 s) and the failures are logged once a
  // second with their count; established connections are served meanwhile.
  bool on_accept_failed(const beast::error_code& ec, asio::steady_timer& retry) {
    size_t count = 0;
    if (ec == asio::error::connection_aborted || ec == asio::error::try_again ||
        ec == asio::error::interrupted) {
      if (throttle_.due(count))
        spdlog::debug("http: accept on {}: {} ({} since the last report)", name_, ec.message(),
                      count);
      return true;
    }
    backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(50)
                                     : std::min(backoff_ * 2, std::chrono::milliseconds(1000));
    if (throttle_.due(count))
      spdlog::warn(
          "http: accept on {} failed {} time(s) since the last report: {}; retrying in {} ms",
          name_, count, ec.message(), backoff_.count());
    retry.expires_after(backoff_);
    retry.async_wait([this](beast::error_code e) {
      if (!e && !server_.stopping()) accept();
    });
    return false;
  }

  // A new connection: a session, or at the cap a 503 and the door.
  template <class Socket>
  bool admit_connection(Socket& socket) {
    backoff_ = std::chrono::milliseconds(0);
    if (budget_->connections.load() < budget_->max_connections) {
      ++budget_->connections;  // only this loop adds, so the cap holds
      return true;
    }
    size_t count = 0;
    if (busy_throttle_.due(count))
      spdlog::warn("http: {} connection(s) on {} refused: {} open, the maximum (--max-connections)",
                   count, name_, budget_->max_connections);
    // A fresh socket's send buffer is empty: the short answer goes out without blocking.
    static const std::string busy = [] {
      std::ostringstream out;
      out << make_response(server_busy("too many connections; retry later"), 11, false);
      return out.str();
    }();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(busy), ec);
    socket.shutdown(asio::socket_base::shutdown_both, ec);
    socket.close(ec);
    return false;
  }

  Server& server_;
  const std::string name_;
  std::shared_ptr<ListenerBudget> budget_;
  std::chrono::milliseconds backoff_{0};
  LogThrottle throttle_;
  LogThrottle busy_throttle_;
};

template <class Protocol>
class SocketListener : public Listener {
 public:
  using Stream = beast::basic_stream<Protocol>;

  SocketListener(Server& server, std::string name, typename Protocol::acceptor&& acceptor)
      : Listener(server, std::move(name)),
        acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()) {}
  ~SocketListener() override {
    if (!unix_path_.empty()) {
      // Only the file this listener made: a newer server may have replaced it.
      struct stat st {};
      if (::lstat(unix_path_.c_str(), &st) == 0 && st.st_ino == unix_inode_)
        ::unlink(unix_path_.c_str());
    }
  }

  void remove_on_exit(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    unix_path_ = path;
    unix_inode_ = st.st_ino;
  }

  void accept() override {
    acceptor_.async_accept(asio::make_strand(server_.ioc_),
                           [this](beast::error_code ec, typename Protocol::socket socket) {
                             if (ec == asio::error::operation_aborted) return;
                             if (ec) {
                               if (!on_accept_failed(ec, retry_)) return;
                             } else if (admit_connection(socket)) {
                               start_session(std::move(socket));
                             }
                             if (!server_.stopping()) accept();
                           });
  }

  void close() override {
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      retry_.cancel();
    });
  }

 private:
  void start_session(typename Protocol::socket socket) {
    if constexpr (std::is_same_v<Protocol, tcp>) {
      // Answers are small and latency matters (a watch answer is a policy change on its way
      // to a cell): never hold one back waiting for an ACK.
      beast::error_code ec;
      socket.set_option(tcp::no_delay(true), ec);
    }
    if constexpr (std::is_same_v<Protocol, tcp>) {
      if (const auto& tls = server_.options_.tls) {
        auto session = std::make_shared<Session<TlsStream>>(
            TlsStream(beast::tcp_stream(std::move(socket)), *tls), server_, budget_);
        server_.track(session);
        return session->run();
      }
    }
    auto session = std::make_shared<Session<Stream>>(Stream(std::move(socket)), server_, budget_);
    server_.track(session);
    session->run();
  }

  typename Protocol::acceptor acceptor_;
  asio::steady_timer retry_;
  std::filesystem::path unix_path_;
  ino_t unix_inode_ = 0;
};

Server::Server(asio::io_context& ioc, const Router& router, ServerOptions options)
    : ioc_(ioc), router_(router), options_(options), trim_timer_(asio::make_strand(ioc)) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::listen(const tcp::endpoint& at) {
  tcp::acceptor acceptor(asio::make_strand(ioc_));
  beast::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{"LISTEN_FAILED",
                 "cannot listen on " + at.address().to_string() + ":" + std::to_string(at.port()) +
                     ": " + ec.message(),
                 ec.value()};
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Error{"LISTEN_FAILED", "local_endpoint: " + ec.message(), ec.value()};
  listeners_.push_back(
      std::make_unique<SocketListener<tcp>>(*this, format_endpoint(bound), std::move(acceptor)));
  return bound;
}

Result<void> Server::listen_unix(const std::filesystem::path& path, mode_t mode) {
  const std::string where = path.string();
  auto failed = [&](const std::string& why, int err = 0) {
    return Error{"LISTEN_FAILED", "cannot listen on " + where + ": " + why, err};
  };
  if (where.empty() || where.size() >= sizeof(sockaddr_un{}.sun_path))
    return failed("a unix socket path is 1-" + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                  " bytes");
  struct stat st {};
  if (::lstat(where.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return failed("the path exists and is not a socket");
    // A socket file nobody accepts on is left over from a process that died: replace it.
    local::socket probe(ioc_);
    beast::error_code ec;
    probe.open(local(), ec);
    if (!ec) probe.non_blocking(true, ec);
    if (!ec) probe.connect(local::endpoint(where), ec);
    if (ec != asio::error::connection_refused)
      return failed("another process is listening there (" +
                    (ec ? ec.message() : std::string("it accepted a connection")) + ")");
    if (::unlink(where.c_str()) != 0 && errno != ENOENT)
      return failed(std::string("removing the stale socket: ") + std::strerror(errno), errno);
  }
  local::acceptor acceptor(asio::make_strand(ioc_));
  beast::error_code ec;
  acceptor.open(local(), ec);
  if (!ec) {
    // The file is created by bind with the umask's mode: never wider than asked for, not
    // even for an instant.
    const mode_t old_mask = ::umask(~mode & 0777);
    acceptor.bind(local::endpoint(where), ec);
    ::umask(old_mask);
  }
  if (!ec && ::chmod(where.c_str(), mode) != 0)
    ec = beast::error_code(errno, boost::system::system_category());
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return failed(ec.message(), ec.value());
  auto listener =
      std::make_unique<SocketListener<local>>(*this, "unix:" + where, std::move(acceptor));
  listener->remove_on_exit(path);
  listeners_.push_back(std::move(listener));
  return Ok();
}

void Server::start() {
  for (auto& l : listeners_) l->accept();
  schedule_trim();
}

// Freed memory goes back to the free lists of malloc's arenas, where it stays: a burst of
// large bodies would keep the process's RSS high for good. Once the listeners hold no bodies
// and enough was freed since the last time, malloc_trim() returns it to the OS.
void Server::schedule_trim() {
  trim_timer_.expires_after(std::chrono::seconds(1));
  trim_timer_.async_wait([this](beast::error_code ec) {
    if (ec || stopping()) return;
    size_t held = 0, freed = 0;
    for (const auto& l : listeners_) {
      held += l->budget().buffered.load();
      freed += l->budget().freed.load();
    }
    if (held == 0 && freed >= kTrimThreshold) {
      for (auto& l : listeners_) l->budget().freed = 0;
#ifdef __GLIBC__
      ::malloc_trim(0);
#endif
    }
    schedule_trim();
  });
}

bool Server::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void Server::track(const std::shared_ptr<SessionBase>& session) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
  sessions_.push_back(session);
}

bool Server::idle() {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
  return sessions_.empty();
}

void Server::shutdown() {
  std::vector<std::weak_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    sessions = sessions_;
  }
  for (auto& l : listeners_) l->close();
  asio::post(trim_timer_.get_executor(), [this] { trim_timer_.cancel(); });
  for (auto& weak : sessions)
    if (auto s = weak.lock()) s->close_when_idle();
}

}  // namespace wiretag::http
