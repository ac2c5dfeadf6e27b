// common/sd_notify.h: the datagram reaches a socket named by NOTIFY_SOCKET (a path or an
// abstract name); unset, nothing is sent and it is not an error.
#include "common/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace wiretag {
namespace {

// A datagram socket bound to `name` ("@x": abstract); receive() returns one message.
class Receiver {
 public:
  explicit Receiver(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~Receiver() { ::close(fd_); }
  bool bound() const { return bound_; }
  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return "";  // a liveness bound: the send is synchronous
    char buf[512];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotify, UnsetIsNotAnError) {
  ::unsetenv("NOTIFY_SOCKET");
  auto r = sd_notify("READY=1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST(SdNotify, SendsToAPathSocket) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("wt-notify-" + std::to_string(::getpid()) + ".sock"))
                         .string();
  std::filesystem::remove(path);
  Receiver rx(path);
  ASSERT_TRUE(rx.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  auto r = sd_notify("READY=1\nSTATUS=up");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_EQ(rx.receive(), "READY=1\nSTATUS=up");
  std::filesystem::remove(path);
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  std::string name = "@wt-notify-test-" + std::to_string(::getpid());
  Receiver rx(name);
  ASSERT_TRUE(rx.bound());
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  auto r = sd_notify("STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(rx.receive(), "STOPPING=1");
}

TEST(SdNotify, UnreachableSocketIsAnError) {
  ::setenv("NOTIFY_SOCKET", "/nonexistent/wt-notify.sock", 1);
  auto r = sd_notify("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "NOTIFY_FAILED");
}

}  // namespace
}  // namespace wiretag
