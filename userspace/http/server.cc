#include "http/server.h"

#include <array>
#include <cctype>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"

namespace wiretag::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

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
    default:
      return Method::Other;
  }
}

BeastResponse make_response(const Reply& reply, unsigned version, bool keep_alive) {
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
  return res;
}

}  // namespace

void respond_async(const Router& router, const BeastRequest& request,
                   std::function<void(BeastResponse, std::shared_ptr<LineStream>)> done) {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  Request req;
  req.method = method_of(request.method());
  if (auto split = split_target(std::string_view(request.target().data(), request.target().size()),
                                req.path, req.query);
      !split)
    return done(make_response(error_reply(split.error()), version, keep_alive), nullptr);
  if (auto it = request.find(beast_http::field::authorization); it != request.end())
    req.authorization = std::string(it->value());
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[std::move(name)] = std::string(field.value());
  }
  req.body = request.body();
  router.dispatch(std::move(req), [done = std::move(done), version, keep_alive](Reply reply) {
    if (reply.lines && version < 11) {
      // HTTP/1.0 has no chunked coding to carry a stream in.
      reply.lines->close(LineStream::End::ClientGone);
      return done(
          make_response(error_reply(Error{"BAD_REQUEST", "a streamed answer needs HTTP/1.1"}),
                        version, false),
          nullptr);
    }
    std::shared_ptr<LineStream> lines = reply.lines;
    done(make_response(reply, version, keep_alive), std::move(lines));
  });
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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() {
    if (lines_) lines_->close(LineStream::End::ClientGone);
  }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // Closes the connection now if it is waiting for a request, else after the response; a
  // streamed response ends after the lines already queued.
  void close_when_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->reading_) beast::get_lowest_layer(self->stream_).cancel();
      if (self->lines_) self->lines_->finish(LineStream::End::Shutdown);
    });
  }

 private:
  // Lines gathered into one write when a stream has several queued.
  static constexpr size_t kLinesPerWrite = 64;

  void do_read() {
    if (closing_) return do_close();
    lines_.reset();
    stream_done_ = false;
    parser_.emplace();
    parser_->body_limit(server_.options_.body_limit);
    parser_->header_limit(64 * 1024);  // a policy key in the path is up to 60,000 characters
    stream_.expires_after(server_.options_.read_timeout);
    reading_ = true;
    beast_http::async_read(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    reading_ = false;
    if (ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout)
      return do_close();
    if (ec == beast_http::error::body_limit) {
      linger_ = true;
      // The rest of the body is still on the wire: answer, then close the connection.
      return send_response(make_response(
          error_reply(Error{"BODY_TOO_LARGE", "request body exceeds 1 MiB"}), 11, false));
    }
    if (ec) {
      linger_ = true;
      spdlog::debug("http: bad request from client: {}", ec.message());
      return send_response(make_response(
          error_reply(Error{"BAD_REQUEST", "malformed HTTP request: " + ec.message()}), 11, false));
    }
    // No read timeout while the handler works: a long poll may answer minutes later.
    stream_.expires_never();
    respond_async(
        server_.router_, parser_->get(),
        [self = shared_from_this()](BeastResponse res, std::shared_ptr<LineStream> lines) {
          auto shared = std::make_shared<BeastResponse>(std::move(res));
          asio::post(self->stream_.get_executor(), [self, shared, lines] {
            if (lines) return self->start_stream(std::move(*shared), lines);
            self->send_response(std::move(*shared));
          });
        });
  }

  void send_response(BeastResponse response) {
    response_ = std::make_shared<BeastResponse>(std::move(response));
    stream_.expires_after(server_.options_.read_timeout);
    beast_http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Session::on_write, shared_from_this(), response_->need_eof()));
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
    stream_.expires_after(server_.options_.read_timeout);
    beast_http::async_write_header(
        stream_, *head_writer_,
        beast::bind_front_handler(&Session::on_head_written, shared_from_this()));
  }

  void on_head_written(beast::error_code ec, std::size_t) {
    head_writer_.reset();
    response_.reset();
    if (ec) return abort_stream();
    watch_peer();
    lines_->attach([weak = weak_from_this()] {
      if (auto self = weak.lock())
        asio::post(self->stream_.get_executor(), [self] { self->send_lines(); });
    });
  }

  // While streaming, a read completes only when the client sends (a pipelined request, kept
  // for after the stream), closes or resets the connection.
  void watch_peer() {
    if (closed_) return;
    peer_reading_ = true;
    stream_.expires_never();  // a quiet client is normal here; only writes have a deadline
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::on_peer_read, shared_from_this()));
  }

  void on_peer_read(beast::error_code ec, std::size_t n) {
    peer_reading_ = false;
    if (closed_) return;
    if (!ec) {
      buffer_.commit(n);
      if (buffer_.size() > server_.options_.body_limit) return abort_stream();
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
    stream_.expires_after(server_.options_.read_timeout);
    asio::async_write(
        stream_, buffers_,
        beast::bind_front_handler(&Session::on_lines_written, shared_from_this(), batch.last));
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
    if (peer_reading_) return stream_.cancel();  // on_peer_read() goes on with do_read()
    do_read();
  }

  void abort_stream() {
    if (lines_) lines_->close(LineStream::End::ClientGone);
    do_close();
  }

  void do_close() {
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  // After refusing a request whose body is still arriving: stop sending, and read what the
  // client still sends until it closes, so closing does not reset the connection (which
  // could destroy our error response before the client reads it).
  void do_linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    drain_ = std::make_shared<std::array<char, 65536>>();
    stream_.async_read_some(asio::buffer(*drain_),
                            beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t) {
    if (ec) return do_close();
    stream_.async_read_some(asio::buffer(*drain_),
                            beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  using Chunk = beast_http::chunk_body<std::array<asio::const_buffer, 2>>;

  beast::tcp_stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::shared_ptr<BeastResponse> response_;
  std::shared_ptr<std::array<char, 65536>> drain_;
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

Server::Server(asio::io_context& ioc, const Router& router, ServerOptions options)
    : ioc_(ioc), router_(router), options_(options), acceptor_(asio::make_strand(ioc)) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::listen(const tcp::endpoint& at) {
  beast::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{"LISTEN_FAILED",
                 "cannot listen on " + at.address().to_string() + ":" + std::to_string(at.port()) +
                     ": " + ec.message(),
                 ec.value()};
  tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return Error{"LISTEN_FAILED", "local_endpoint: " + ec.message(), ec.value()};
  return bound;
}

void Server::start() { do_accept(); }

void Server::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("http: accept failed: {}", ec.message());
    } else {
      // Answers are small and latency matters (a watch answer is a policy change on its way
      // to a cell): never hold one back waiting for an ACK.
      beast::error_code nodelay_ec;
      s.set_option(tcp::no_delay(true), nodelay_ec);
      auto session = std::make_shared<Session>(std::move(s), *this);
      track(session);
      session->run();
    }
    std::lock_guard lock(mutex_);
    if (!stopping_) do_accept();
  });
}

void Server::track(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  sessions_.push_back(session);
}

bool Server::idle() {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  return sessions_.empty();
}

void Server::shutdown() {
  std::vector<std::weak_ptr<Session>> sessions;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    sessions = sessions_;
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  for (auto& weak : sessions)
    if (auto s = weak.lock()) s->close_when_idle();
}

}  // namespace wiretag::http
