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
  res.body() = reply.serialized
                   ? *reply.serialized
                   : reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

}  // namespace

void respond_async(const Router& router, const BeastRequest& request,
                   std::function<void(BeastResponse)> done) {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  Request req;
  req.method = method_of(request.method());
  if (auto split = split_target(std::string_view(request.target().data(), request.target().size()),
                                req.path, req.query);
      !split)
    return done(make_response(error_reply(split.error()), version, keep_alive));
  if (auto it = request.find(beast_http::field::authorization); it != request.end())
    req.authorization = std::string(it->value());
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[std::move(name)] = std::string(field.value());
  }
  req.body = request.body();
  router.dispatch(std::move(req), [done = std::move(done), version, keep_alive](Reply reply) {
    done(make_response(reply, version, keep_alive));
  });
}

BeastResponse respond(const Router& router, const BeastRequest& request) {
  auto out = std::make_shared<std::optional<BeastResponse>>();
  respond_async(router, request, [out](BeastResponse res) { *out = std::move(res); });
  if (!*out)
    return make_response(
        error_reply(Error{"ASYNC_ROUTE", "this route answers later; use respond_async()"}),
        request.version(), request.keep_alive());
  return std::move(**out);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {}

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // Closes the connection now if it is waiting for a request, else after the response.
  void close_when_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->reading_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  void do_read() {
    if (closing_) return do_close();
    parser_.emplace();
    parser_->body_limit(server_.options_.body_limit);
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
    respond_async(server_.router_, parser_->get(), [self = shared_from_this()](BeastResponse res) {
      auto shared = std::make_shared<BeastResponse>(std::move(res));
      asio::post(self->stream_.get_executor(),
                 [self, shared] { self->send_response(std::move(*shared)); });
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

  void do_close() {
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

  beast::tcp_stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::shared_ptr<BeastResponse> response_;
  std::shared_ptr<std::array<char, 65536>> drain_;
  bool linger_ = false;
  bool reading_ = false;
  bool closing_ = false;
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
