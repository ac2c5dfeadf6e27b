// http::Server on a unix domain socket, in-process, over a real socket: requests served, the
// file's mode, a stale socket file replaced, a live one or another file left alone, the file
// removed when the server goes; and one Server on TCP and a unix socket at once.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <fstream>
#include <memory>
#include <thread>

#include "http/server.h"
#include "raw_client.h"
#include "temp_dir.h"

namespace wiretag::test {
namespace {

using http::Reply;
using http::Request;

http::Router hello_router() {
  http::Router r;
  r.get("/hello", [](const Request&) -> Result<Reply> { return Reply{200, {{"hello", "world"}}}; });
  return r;
}

// A Server on its own io_context thread for the length of a test.
class RunningServer {
 public:
  explicit RunningServer(const http::Router& router, http::ServerOptions options = {})
      : server_(std::make_unique<http::Server>(ioc_, router, options)) {}
  ~RunningServer() { stop(); }

  http::Server& server() { return *server_; }
  void start() {
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void stop() {
    if (!server_) return;
    server_->shutdown();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

 private:
  boost::asio::io_context ioc_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

RawResponse get_hello(std::unique_ptr<RawConnection> conn) {
  if (!conn || !conn->send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")) return {};
  return conn->read();
}

TEST(UnixSocket, ServesRequestsOnASocketFileOfTheGivenMode) {
  TempDir dir;
  const auto path = dir.path() / "plugin.sock";
  http::Router router = hello_router();
  RunningServer s(router);
  auto listening = s.server().listen_unix(path, 0600);
  ASSERT_TRUE(listening) << listening.error().message;
  s.start();

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  RawResponse r = get_hello(RawConnection::local(path));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"hello":"world"})");
  // Keep-alive on the same connection, and the HTTP rules of any listener.
  auto conn = RawConnection::local(path);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(conn->send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    EXPECT_EQ(conn->read().status, 200);
  }
  ASSERT_TRUE(conn->send("GET /hello HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(conn->read().error_code(), "MISSING_HOST");

  s.stop();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file goes with the server";
}

TEST(UnixSocket, OtherModesAreKept) {
  TempDir dir;
  const auto path = dir.path() / "group.sock";
  http::Router router = hello_router();
  RunningServer s(router);
  ASSERT_TRUE(s.server().listen_unix(path, 0660));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST(UnixSocket, AStaleSocketFileIsReplacedALiveOneIsNot) {
  TempDir dir;
  const auto path = dir.path() / "plugin.sock";
  // What a process that died leaves: a socket file nobody accepts on.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path));
  http::Router router = hello_router();
  RunningServer first(router);
  auto listening = first.server().listen_unix(path, 0600);
  ASSERT_TRUE(listening) << listening.error().message;
  first.start();
  EXPECT_EQ(get_hello(RawConnection::local(path)).status, 200);

  // A second server does not take the socket of a live one.
  RunningServer second(router);
  auto taken = second.server().listen_unix(path, 0600);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, "LISTEN_FAILED");
  second.stop();
  EXPECT_EQ(get_hello(RawConnection::local(path)).status, 200) << "the first still serves";

  // Nor does it remove a file that is not a socket.
  const auto file = dir.path() / "not-a-socket";
  std::ofstream(file) << "data";
  RunningServer third(router);
  auto refused = third.server().listen_unix(file, 0600);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "LISTEN_FAILED");
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST(UnixSocket, OneServerListensOnTcpAndAUnixSocket) {
  TempDir dir;
  const auto path = dir.path() / "both.sock";
  http::Router router = hello_router();
  RunningServer s(router);
  auto tcp = s.server().listen({boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(tcp);
  ASSERT_TRUE(s.server().listen_unix(path, 0600));
  s.start();
  EXPECT_EQ(get_hello(RawConnection::tcp(tcp->port())).status, 200);
  EXPECT_EQ(get_hello(RawConnection::local(path)).status, 200);
}

// The connection cap holds per listener on a unix socket too.
TEST(UnixSocket, ConnectionCapAppliesPerListener) {
  TempDir dir;
  const auto path = dir.path() / "cap.sock";
  http::Router router = hello_router();
  http::ServerOptions options;
  options.max_connections = 1;
  RunningServer s(router, options);
  auto tcp = s.server().listen({boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(tcp);
  ASSERT_TRUE(s.server().listen_unix(path, 0600));
  s.start();
  auto held = RawConnection::local(path);
  ASSERT_TRUE(held->send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  ASSERT_EQ(held->read().status, 200);
  RawResponse refused = RawConnection::local(path)->read();
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.error_code(), "SERVER_BUSY");
  // The TCP listener has a place of its own.
  EXPECT_EQ(get_hello(RawConnection::tcp(tcp->port())).status, 200);
}

}  // namespace
}  // namespace wiretag::test
