// A client on a plain POSIX socket for tests that send exactly the bytes they mean (a head
// without its body, a broken framing) and read answers one at a time, each read bounded by a
// receive timeout so a server that never answers fails the test instead of hanging it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wiretag::test {

struct RawResponse {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string error_code() const {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_array() || j.size() != 1 || !j[0].is_object() || !j[0].contains("error_code"))
      return "";
    return j[0]["error_code"].get<std::string>();
  }
};

class RawConnection {
 public:
  static std::unique_ptr<RawConnection> tcp(unsigned short port, int timeout_s = 10) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return finish(fd, ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), timeout_s);
  }
  static std::unique_ptr<RawConnection> local(const std::filesystem::path& path,
                                              int timeout_s = 10) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    return finish(fd, ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), timeout_s);
  }

  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next response (an interim 100 Continue is one too).
  RawResponse read() {
    namespace bhttp = boost::beast::http;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    RawResponse out;
    for (;;) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != bhttp::error::need_more) return out;
        if (parser.is_done()) break;
        if (used > 0 && !pending_.empty()) continue;
      }
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (n == 0 && parser.is_header_done() && !parser.content_length() && !parser.chunked()) {
          boost::beast::error_code ec;
          parser.put_eof(ec);
          if (!ec) break;
        }
        return out;
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
    const auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
    return out;
  }

  // True when the server has closed (or reset) the connection: the next read gets no bytes.
  bool closed_by_peer() {
    if (!pending_.empty()) return false;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n > 0) pending_.push_back(c);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  int fd() const { return fd_; }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  static std::unique_ptr<RawConnection> finish(int fd, int connected, int timeout_s) {
    if (fd < 0) return nullptr;
    if (connected != 0) {
      ::close(fd);
      return nullptr;
    }
    timeval tv{timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return std::unique_ptr<RawConnection>(new RawConnection(fd));
  }

  int fd_;
  std::string pending_;
};

}  // namespace wiretag::test
