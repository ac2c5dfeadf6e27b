#include "event_reader.h"

#include <sys/socket.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http/client.h"

namespace wiretag::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using nlohmann::json;

EventReader::EventReader(std::filesystem::path socket, std::string target) {
  struct Connection {
    boost::asio::io_context ioc;
    boost::asio::local::stream_protocol::socket socket{ioc};
  };
  auto conn = std::make_shared<Connection>();
  auto* sock = &conn->socket;
  boost::system::error_code ec;
  sock->connect(boost::asio::local::stream_protocol::endpoint(socket.string()), ec);
  if (ec) {
    done_ = true;
    return;
  }
  cancel_ = [conn] { ::shutdown(conn->socket.native_handle(), SHUT_RDWR); };
  thread_ = std::thread([this, conn, sock, target] {
    boost::system::error_code ec;
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(*sock, req, ec);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    if (!ec) bhttp::read_header(*sock, buffer, parser, ec);
    if (!ec && !parser.chunked()) {
      if (!parser.is_done()) bhttp::read(*sock, buffer, parser, ec);
    } else if (!ec) {
      std::string partial;
      parser.body_limit(boost::none);
      auto on_chunk = [&](std::uint64_t, beast::string_view data, boost::system::error_code&) {
        for (char c : data) {
          if (c != '\n') {
            partial += c;
            continue;
          }
          add(partial);
          partial.clear();
        }
        return data.size();
      };
      parser.on_chunk_body(on_chunk);
      {
        std::lock_guard lock(mu_);
        status_ = parser.get().result_int();
      }
      while (!parser.is_done() && !ec) bhttp::read_some(*sock, buffer, parser, ec);
    }
    std::lock_guard lock(mu_);
    status_ = parser.get().result_int();
    if (!parser.chunked()) body_ = parser.get().body();
    done_ = true;
  });
}

EventReader::EventReader(unsigned short port, std::string target, std::string bearer) {
  auto client =
      std::make_shared<http::Client>(http::BaseUrl{"127.0.0.1", std::to_string(port)}, bearer);
  cancel_ = [client] { client->cancel(); };
  thread_ = std::thread([this, client, target] {
    auto r = client->stream(
        target,
        [this](std::string_view line) {
          add(line);
          return true;
        },
        std::chrono::seconds(120));
    std::lock_guard lock(mu_);
    if (r) {
      status_ = r->status;
      body_ = r->body;
    }
    done_ = true;
  });
}

EventReader::~EventReader() { stop(); }

void EventReader::stop() {
  if (cancel_) cancel_();
  if (thread_.joinable()) thread_.join();
}

void EventReader::add(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  std::lock_guard lock(mu_);
  lines_.push_back(std::move(j));
}

bool EventReader::wait_started(std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    {
      std::lock_guard lock(mu_);
      if (!lines_.empty()) return true;
      if (done_) return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

unsigned EventReader::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::string EventReader::body() const {
  std::lock_guard lock(mu_);
  return body_;
}

std::vector<json> EventReader::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::vector<json> EventReader::events() const {
  std::vector<json> out;
  for (json& j : lines())
    if (j.is_object() && (j.value("type", "") == "drop" || j.value("type", "") == "audit"))
      out.push_back(std::move(j));
  return out;
}

uint64_t EventReader::lost(const std::string& cause) const {
  uint64_t n = 0;
  for (const json& j : lines())
    if (j.is_object() && j.value("type", "") == "lost" && j.value("cause", "") == cause)
      n += j.value("count", uint64_t{0});
  return n;
}

}  // namespace wiretag::test
