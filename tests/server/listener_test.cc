// The HTTP listener against the real binary on real sockets (issue 14 items 2, 3 and 10):
// requests refused on their head before the body is sent, the caps on connections and on
// buffered body bytes, memory given back, accept backing off when descriptors run out, and
// the framing rules (Host, Transfer-Encoding).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

std::string head(const std::string& method, const std::string& target,
                 const std::string& authorization, size_t content_length,
                 const std::string& extra = "") {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!authorization.empty()) out += "Authorization: " + authorization + "\r\n";
  out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(content_length) +
         "\r\n" + extra + "\r\n";
  return out;
}

std::string bearer(const ServerProcess& s) { return "Bearer " + s.admin_token(); }

long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// utime + stime of the process, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  // Fields from the 3rd (state); utime and stime are the 14th and 15th.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

size_t count_lines(const std::string& file) {
  std::ifstream in(file);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

size_t open_fds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Retries `ok` (which does real work over the network) until it holds; the server frees what a
// closed connection held on its own threads, a moment after the client closes.
template <class Fn>
bool eventually(Fn ok, int tries = 200) {
  for (int i = 0; i < tries; ++i) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

class Listener : public ServerTest {
 protected:
  void SetUp() override {}  // each test starts the server with its flags
};

// Item 2: every authenticated API refuses a request without (valid) credentials on its head:
// the client sends the head of a 1 MiB POST and nothing more, and reads the refusal.
TEST_F(Listener, RequestWithoutCredentialsIsRefusedBeforeItsBodyIsSent) {
  ASSERT_NO_FATAL_FAILURE(start({"--read-timeout", "5"}));
  struct Case {
    std::string target;
    std::string authorization;
    int status;
    std::string error_code;
  };
  const std::vector<Case> cases = {
      {"/app", "", 401, "UNAUTHORIZED"},
      {"/whitelist", "Bearer not-a-token", 401, "UNAUTHORIZED"},
      {"/v1/tokens", "", 401, "UNAUTHORIZED"},
      {"/v1/accounts/acme/policies", "", 401, "UNAUTHORIZED"},
      {"/v1/accounts/acme/policy_keys", "Basic YTpi", 401, "UNAUTHORIZED"},
      {"/internal/v1/endpoints/query", "", 401, "UNAUTHORIZED"},
      {"/internal/v1/cells/c1/status", "Bearer nope", 401, "UNAUTHORIZED"},
      {"/policy/pap/v1/pdps/groups/batch", "", 401, "UNAUTHORIZED"},
      {"/policy/pap/v1/pdps/deployments/batch", bearer(s()), 401, "UNAUTHORIZED"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target + " with \"" + c.authorization + "\"");
    auto conn = RawConnection::tcp(s().port());
    ASSERT_TRUE(conn);
    ASSERT_TRUE(conn->send(head("POST", c.target, c.authorization, 1 << 20)));
    RawResponse r = conn->read();
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.error_code) << r.body;
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(conn->closed_by_peer());
  }
  // PAP refusals are dressed as the PAP's handlers dress them.
  auto pap = RawConnection::tcp(s().port());
  ASSERT_TRUE(pap->send(head("POST", "/policy/pap/v1/pdps/policies", "", 1 << 20,
                             "X-ONAP-RequestID: 0f6b7a5c-1111-2222-3333-444455556666\r\n")));
  RawResponse r = pap->read();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Basic realm=\"wiretag PAP\"");
  EXPECT_EQ(r.header("x-onap-requestid"), "0f6b7a5c-1111-2222-3333-444455556666");

  // A cell token is not an external API credential: 403 on the head too.
  auto cell = s().post("/v1/tokens", R"({"scopes":["cell"],"cell":"c1"})");
  ASSERT_EQ(cell.status, 201) << cell.body;
  auto c = RawConnection::tcp(s().port());
  ASSERT_TRUE(
      c->send(head("POST", "/app", "Bearer " + cell.json()["token"].get<std::string>(), 1 << 20)));
  r = c->read();
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.error_code(), "FORBIDDEN");

  // Nothing was written by the refused requests, and the server still serves.
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 0u);
}

// HEAD: no route takes it, so 405 listing the methods the path has, and no content: a body
// would be read as the start of the next answer on a reused connection (RFC 9110 §9.3.2).
TEST_F(Listener, HeadIsRefusedWithoutContent) {
  ASSERT_NO_FATAL_FAILURE(start({}));
  auto conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(conn->send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  RawResponse r = conn->read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET");
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("content-length"), "");
  EXPECT_TRUE(conn->closed_by_peer());
  // Refused on its head (no credentials), the same: no content.
  conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(conn->send("HEAD /policy/pap/v1/healthcheck HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = conn->read();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "");
  EXPECT_NE(r.header("x-onap-requestid"), "");
  EXPECT_TRUE(conn->closed_by_peer());
  // Any other 405 says what the path takes too.
  auto put = s().request("PUT", "/app", "{}");
  EXPECT_EQ(put.status, 405) << put.body;
  EXPECT_EQ(put.error_code(), "METHOD_NOT_ALLOWED");
  EXPECT_NE(put.headers["allow"].find("POST"), std::string::npos) << put.headers["allow"];
}

// Admitted requests still work: a body after the head, and 100-continue for a client that
// waits for it before sending the body.
TEST_F(Listener, AdmittedRequestReadsItsBodyAndHonours100Continue) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string body = R"({"guid":"app-1"})";
  auto conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(
      conn->send(head("POST", "/app", bearer(s()), body.size(), "Expect: 100-continue\r\n")));
  RawResponse interim = conn->read();
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(conn->send(body));
  RawResponse r = conn->read();
  EXPECT_EQ(r.status, 201) << r.body;
  // Keep-alive after a refusal without a body: the connection goes on.
  ASSERT_TRUE(conn->send("GET /apps HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = conn->read();
  EXPECT_EQ(r.status, 401) << r.body;
  ASSERT_TRUE(
      conn->send("GET /apps HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(s()) + "\r\n\r\n"));
  r = conn->read();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("app-1") != std::string::npos, true) << r.body;
  // /healthz takes no credentials.
  EXPECT_EQ(http_request(s().port(), "GET", "/healthz", "", "").status, 200);
}

// Item 2 (b): past --max-connections a connection is answered 503 SERVER_BUSY at once and
// closed; the connections already open are served, and a freed place is taken again.
TEST_F(Listener, ConnectionsPastTheCapAreRefusedAtOnce) {
  ASSERT_NO_FATAL_FAILURE(start({"--max-connections", "4"}));
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(RawConnection::tcp(s().port()));
    ASSERT_TRUE(open.back());
    ASSERT_TRUE(open.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(open.back()->read().status, 200);
  }
  auto extra = RawConnection::tcp(s().port());
  ASSERT_TRUE(extra);
  RawResponse r = extra->read();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.error_code(), "SERVER_BUSY");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_TRUE(extra->closed_by_peer());
  for (auto& c : open) {
    ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(c->read().status, 200);
  }
  open.pop_back();
  EXPECT_TRUE(eventually(
      [&] { return http_request(s().port(), "GET", "/healthz", "", "").status == 200; }));
}

// Item 2 (b): request bodies held at once are capped per listener; a Content-Length that does
// not fit is refused on its head, a chunked body once it grows past what is left.
TEST_F(Listener, BufferedBodyBytesAreCapped) {
  ASSERT_NO_FATAL_FAILURE(start({"--max-buffered-body-bytes", "1048576", "--read-timeout", "10"}));
  // A holds 800,000 bytes once the server says 100 Continue.
  auto a = RawConnection::tcp(s().port());
  ASSERT_TRUE(a->send(head("POST", "/app", bearer(s()), 800000, "Expect: 100-continue\r\n")));
  ASSERT_EQ(a->read().status, 100);
  ASSERT_TRUE(a->send(std::string(1000, ' ')));

  auto b = RawConnection::tcp(s().port());
  ASSERT_TRUE(b->send(head("POST", "/app", bearer(s()), 800000)));
  RawResponse r = b->read();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.error_code(), "SERVER_BUSY");
  EXPECT_EQ(r.header("retry-after"), "1");

  // Chunked: refused once it has grown past the ~250 KB left.
  auto c = RawConnection::tcp(s().port());
  ASSERT_TRUE(c->send("POST /app HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(s()) +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 8; ++i) {
    std::ostringstream chunk;
    chunk << std::hex << 65536 << "\r\n" << std::string(65536, ' ') << "\r\n";
    if (!c->send(chunk.str())) break;  // refused: the server may stop reading
  }
  r = c->read();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.error_code(), "SERVER_BUSY");

  // A small body fits beside A's.
  EXPECT_EQ(s().post("/app", R"({"guid":"small"})").status, 201);
  // A completes; its place is free again.
  ASSERT_TRUE(a->send(std::string(799000, ' ')));
  r = a->read();
  EXPECT_EQ(r.status, 400) << r.body;  // blanks are not a JSON object
  a.reset();
  EXPECT_TRUE(eventually([&] {
    auto d = RawConnection::tcp(s().port());
    if (!d->send(head("POST", "/app", bearer(s()), 800000, "Expect: 100-continue\r\n")))
      return false;
    return d->read().status == 100;
  }));
}

// Item 2 (c): after a burst of large bodies the memory goes back to the OS.
TEST_F(Listener, MemoryOfLargeBodiesIsGivenBack) {
  ASSERT_NO_FATAL_FAILURE(
      start({"--max-buffered-body-bytes", "1073741824", "--max-connections", "1024"}));
  constexpr int kConnections = 150;
  constexpr size_t kBody = 1 << 20;
  const std::string body(kBody - 1, 'x');
  // A few large bodies one after the other first: once glibc has freed a mapped block of a
  // size, it serves that size from its heaps, where freed memory stays unless trimmed.
  for (int i = 0; i < 4; ++i) ASSERT_EQ(s().post("/app", body + "x").status, 400);
  const long base = status_kb(s().pid(), "VmRSS");
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(RawConnection::tcp(s().port()));
    ASSERT_TRUE(conns.back());
    ASSERT_TRUE(conns.back()->send(head("POST", "/app", bearer(s()), kBody)));
    ASSERT_TRUE(conns.back()->send(body));  // all but the last byte: the server holds it
  }
  // Every body is held at once.
  ASSERT_TRUE(eventually(
      [&] { return status_kb(s().pid(), "VmRSS") > base + kConnections * 1024 * 3 / 4; }, 2400));
  const long peak = status_kb(s().pid(), "VmRSS");
  for (auto& c : conns) ASSERT_TRUE(c->send("x"));
  for (auto& c : conns) EXPECT_EQ(c->read().status, 400);
  conns.clear();
  // Back near where it started (generously: 48 MiB above), not ~150 MiB above.
  EXPECT_TRUE(eventually([&] { return status_kb(s().pid(), "VmRSS") < base + 48 * 1024; }, 400))
      << "RSS: base " << base << " kB, peak " << peak << " kB, now "
      << status_kb(s().pid(), "VmRSS") << " kB";
  EXPECT_EQ(s().get("/apps").status, 200);
}

// Every agent's watch is a connection: a server started with the usual soft limit of 1024
// descriptors raises it to its hard limit, so --max-connections is what bounds it (issue 20:
// 1,000 agents on one server).
TEST_F(Listener, TheServerRaisesItsSoftOpenFilesLimitToTheHardOne) {
  rlimit mine{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &mine), 0);
  if (mine.rlim_max != RLIM_INFINITY && mine.rlim_max <= 256)
    GTEST_SKIP() << "the hard limit (" << mine.rlim_max << ") leaves nothing to raise";
  // The server inherits this process's limits: a low soft limit under the same hard one.
  rlimit low{256, mine.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0) << std::strerror(errno);
  start();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &mine), 0);
  ASSERT_FALSE(HasFatalFailure());
  rlimit theirs{};
  ASSERT_EQ(::prlimit(s().pid(), RLIMIT_NOFILE, nullptr, &theirs), 0) << std::strerror(errno);
  EXPECT_EQ(theirs.rlim_cur, mine.rlim_max);
  EXPECT_EQ(theirs.rlim_max, mine.rlim_max);
}

// Item 3: out of descriptors, the accept loop backs off: few log lines, little CPU, and an
// established keep-alive connection is still served.
TEST_F(Listener, AcceptBacksOffWhenDescriptorsRunOut) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto kept = RawConnection::tcp(s().port());
  const std::string apps =
      "GET /apps HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(s()) + "\r\n\r\n";
  ASSERT_TRUE(kept->send(apps));
  ASSERT_EQ(kept->read().status, 200);

  // A few descriptors above what the server has open now (the soft limit: it can go back).
  rlimit old{};
  ASSERT_EQ(::prlimit(s().pid(), RLIMIT_NOFILE, nullptr, &old), 0);
  rlimit lim{open_fds(s().pid()) + 4, old.rlim_max};
  ASSERT_EQ(::prlimit(s().pid(), RLIMIT_NOFILE, &lim, nullptr), 0) << std::strerror(errno);
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 32; ++i) {
    flood.push_back(RawConnection::tcp(s().port(), 2));
    ASSERT_TRUE(flood.back());
  }
  // Wait until the server has hit the limit.
  auto log_has = [&](const std::string& what) {
    std::ifstream in(s().output_file());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find(what) != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return log_has("Too many open files"); }));

  const size_t lines_before = count_lines(s().output_file());
  const long cpu_before = cpu_ticks(s().pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const size_t lines = count_lines(s().output_file()) - lines_before;
  const long cpu = cpu_ticks(s().pid()) - cpu_before;
  EXPECT_LT(lines, 20u) << "log lines in 2 s while out of descriptors";
  // A spinning loop burns ~2 s of CPU in 2 s; backing off, next to nothing.
  EXPECT_LT(cpu, sysconf(_SC_CLK_TCK) / 4) << "CPU ticks in 2 s while out of descriptors";

  ASSERT_TRUE(kept->send(apps));
  EXPECT_EQ(kept->read().status, 200);

  // Descriptors back: the queued connections are accepted and served.
  flood.clear();
  ASSERT_EQ(::prlimit(s().pid(), RLIMIT_NOFILE, &old, nullptr), 0);
  EXPECT_TRUE(eventually(
      [&] { return http_request(s().port(), "GET", "/healthz", "", "").status == 200; }));
}

// The head may be up to 64 KiB, so a policy key of ~60 KiB fits in a URL.
TEST_F(Listener, HeadsUpTo64KiBAreRead) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string key(60000, 'A');
  auto r = s().get("/v1/accounts/acme/policy_keys/" + key);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.error_code(), "INVALID_POLICY_KEY");
  auto conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(conn->send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') +
                         "\r\n\r\n"));
  EXPECT_EQ(conn->read().status, 400);
}

// Item 10: an HTTP/1.1 request names its Host; chunked is the only transfer coding.
TEST_F(Listener, RequestWithoutHostIs400) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(conn->send("GET /healthz HTTP/1.1\r\n\r\n"));
  RawResponse r = conn->read();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.error_code(), "MISSING_HOST");
  // HTTP/1.0 had no Host.
  auto old = RawConnection::tcp(s().port());
  ASSERT_TRUE(old->send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(old->read().status, 200);
}

TEST_F(Listener, UnsupportedTransferEncodingIs501) {
  ASSERT_NO_FATAL_FAILURE(start());
  for (const std::string coding : {"gzip", "gzip, chunked", "chunked, chunked", "identity"}) {
    SCOPED_TRACE(coding);
    auto conn = RawConnection::tcp(s().port());
    ASSERT_TRUE(conn->send("POST /app HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(s()) +
                           "\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
                           "10\r\n{\"guid\":\"zz-1\"}\r\n0\r\n\r\n"));
    RawResponse r = conn->read();
    EXPECT_EQ(r.status, 501) << r.body;
    EXPECT_EQ(r.error_code(), "UNSUPPORTED_TRANSFER_ENCODING");
    EXPECT_TRUE(conn->closed_by_peer());
  }
  // Chunked alone is read.
  auto conn = RawConnection::tcp(s().port());
  ASSERT_TRUE(conn->send("POST /app HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(s()) +
                         "\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         "10\r\n{\"guid\":\"zz-12\"}\r\n0\r\n\r\n"));
  EXPECT_EQ(conn->read().status, 201);
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 1u);
}

}  // namespace
}  // namespace wiretag::test
