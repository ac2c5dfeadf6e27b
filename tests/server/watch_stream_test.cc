// The streamed watch (GET /internal/v1/watch?stream=1) over real HTTP against the binary,
// read with http::Client::stream: lines per commit, heartbeats, resync, errors, auth,
// cancel, shutdown, clients that leave and clients that stop reading.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One stream read by http::Client::stream on its own thread: the lines as they came, and the
// result once stream() returned.
class StreamReader {
 public:
  StreamReader(unsigned short port, const std::string& token, std::string target,
               std::chrono::milliseconds idle = 60s)
      : client_(http::BaseUrl{"127.0.0.1", std::to_string(port)}, token) {
    thread_ = std::thread([this, target = std::move(target), idle] {
      auto r = client_.stream(
          target,
          [this](std::string_view line) {
            std::lock_guard lock(mu_);
            lines_.emplace_back(line);
            times_.push_back(Clock::now());
            cv_.notify_all();
            return true;
          },
          idle);
      std::lock_guard lock(mu_);
      result_.emplace(std::move(r));
      cv_.notify_all();
    });
  }
  ~StreamReader() {
    client_.cancel();
    thread_.join();
  }

  // Until n lines came; false when the stream ended first or `within` passed.
  bool wait_lines(size_t n, std::chrono::milliseconds within = 30s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, within, [&] { return lines_.size() >= n || result_; });
    return lines_.size() >= n;
  }
  // Until stream() returned; false after `within`.
  bool wait_end(std::chrono::milliseconds within = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return result_.has_value(); });
  }
  std::vector<std::string> raw() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::vector<json> lines() {
    std::vector<json> out;
    for (const std::string& l : raw()) out.push_back(json::parse(l, nullptr, false));
    return out;
  }
  json last() {
    std::lock_guard lock(mu_);
    return lines_.empty() ? json() : json::parse(lines_.back(), nullptr, false);
  }
  std::vector<Clock::time_point> times() {
    std::lock_guard lock(mu_);
    return times_;
  }
  // Call after wait_end().
  Result<http::ClientResponse> result() {
    std::lock_guard lock(mu_);
    return *result_;
  }
  void cancel() { client_.cancel(); }

 private:
  http::Client client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::vector<Clock::time_point> times_;
  std::optional<Result<http::ClientResponse>> result_;
  std::thread thread_;
};

// A blocking socket that sends one request and reads only when asked.
class RawConnection {
 public:
  // rcvbuf > 0: a small receive buffer, so a client that does not read is noticed soon.
  RawConnection(unsigned short port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(); }
  bool send_get(const std::string& target, const std::string& token) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                      token + "\r\n\r\n";
    return connected_ && ::write(fd_, req.data(), req.size()) == static_cast<ssize_t>(req.size());
  }
  // Reads until `done(all bytes so far)` or EOF/error/10 s of silence; everything read.
  std::string read_until(const std::function<bool(const std::string&)>& done) {
    char buf[65536];
    while (!done(in_)) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      in_.append(buf, static_cast<size_t>(n));
    }
    return in_;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

// The chunks of a chunked body (after the head); `complete` when the last chunk came.
std::vector<std::string> chunks_of(std::string_view body, bool& complete) {
  std::vector<std::string> out;
  complete = false;
  for (;;) {
    size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return out;
    size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    if (size == 0) {
      complete = body.substr(eol) == "\r\n\r\n";
      return out;
    }
    if (body.size() < eol + 2 + size + 2) return out;
    out.emplace_back(body.substr(eol + 2, size));
    body.remove_prefix(eol + 2 + size + 2);
  }
}

class StreamedWatch : public ServerTest {
 protected:
  void register_app(const std::string& guid) {
    auto r = s().post("/app", json{{"guid", guid}}.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  void allow(const std::string& source, const std::string& destination) {
    auto r = s().post("/whitelist", json{{"source", source}, {"destination", destination}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  int64_t revision() { return s().get("/internal/v1/status").json()["revision"].get<int64_t>(); }
  int64_t streams() { return s().get("/internal/v1/status").json().value("streams", int64_t{-1}); }
  // Polls the server's own count (a state, not a time).
  bool until_streams(int64_t n) {
    for (int i = 0; i < 3000; ++i) {
      if (streams() == n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  std::unique_ptr<StreamReader> stream(const std::string& query,
                                       std::chrono::milliseconds idle = 60s) {
    return std::make_unique<StreamReader>(s().port(), s().admin_token(),
                                          "/internal/v1/watch?" + query, idle);
  }
  std::string issue(const json& scopes, const json& accounts = json::array()) {
    auto r = s().post("/v1/tokens", json{{"scopes", scopes}, {"accounts", accounts}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
};

TEST_F(StreamedWatch, EachCommitsEventsArriveInOrderWithIncreasingRevisions) {
  register_app("a");
  register_app("b");
  register_app("c");
  const int64_t rev = revision();
  auto reader = stream("since=" + std::to_string(rev) + "&stream=1&timeout=300");
  ASSERT_TRUE(reader->wait_lines(1));  // at once: nothing yet after rev
  allow("a", "b");
  ASSERT_TRUE(reader->wait_lines(2));
  allow("a", "c");
  ASSERT_TRUE(reader->wait_lines(3));
  ASSERT_EQ(s().request("DELETE", "/whitelist", R"({"source":"a","destination":"b"})").status, 200);
  ASSERT_TRUE(reader->wait_lines(4));
  // A burst: however the server batches it, every event comes once, in order.
  for (const char* d : {"a", "b", "c"}) allow("c", d);
  const int64_t last = revision();
  for (int i = 0; i < 2000 && reader->last()["revision"] != last; ++i)
    std::this_thread::sleep_for(5ms);

  auto lines = reader->lines();
  EXPECT_EQ(lines[0]["revision"], rev);
  EXPECT_EQ(lines[0]["events"], json::array());
  std::vector<std::string> kinds;
  int64_t previous = rev, expected_event = rev;
  for (size_t i = 1; i < lines.size(); ++i) {
    const json& l = lines[i];
    SCOPED_TRACE(l.dump());
    EXPECT_EQ(l["store_id"], lines[0]["store_id"]);
    EXPECT_EQ(l["tag_length"], 2);
    EXPECT_EQ(l["resync"], false);
    ASSERT_FALSE(l["events"].empty()) << "a line after the first carries events";
    EXPECT_GT(l["revision"].get<int64_t>(), previous);
    previous = l["revision"].get<int64_t>();
    for (const json& e : l["events"]) {
      EXPECT_EQ(e["revision"], ++expected_event);
      kinds.push_back(e["kind"].get<std::string>());
    }
    EXPECT_EQ(l["revision"], l["events"].back()["revision"]);
  }
  EXPECT_EQ(lines[1]["events"][0]["body"]["destination"], "b");
  EXPECT_EQ(lines[2]["events"][0]["body"]["destination"], "c");
  EXPECT_EQ(kinds, (std::vector<std::string>{"edge.created", "edge.created", "edge.deleted",
                                             "edge.created", "edge.created", "edge.created"}));
  EXPECT_EQ(previous, last);
}

TEST_F(StreamedWatch, AnswersChunkedNdjsonWithOneLinePerChunk) {
  register_app("a");
  RawConnection c(s().port());
  ASSERT_TRUE(c.send_get("/internal/v1/watch?since=0&stream=1&timeout=1", s().admin_token()));
  // The first line at once, a heartbeat a second later.
  std::string got = c.read_until([](const std::string& in) {
    size_t head = in.find("\r\n\r\n");
    bool complete;
    return head != std::string::npos &&
           chunks_of(std::string_view(in).substr(head + 4), complete).size() >= 2;
  });
  size_t head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << got;
  std::string head = got.substr(0, head_end);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nContent-Type: application/x-ndjson"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  bool complete;
  auto chunks = chunks_of(std::string_view(got).substr(head_end + 4), complete);
  ASSERT_GE(chunks.size(), 2u);
  for (const std::string& chunk : chunks) {
    SCOPED_TRACE(chunk);
    ASSERT_EQ(chunk.back(), '\n');
    EXPECT_EQ(chunk.find('\n'), chunk.size() - 1) << "exactly one line per chunk";
    json j = json::parse(chunk, nullptr, false);
    ASSERT_TRUE(j.is_object());
    for (const char* key : {"store_id", "tag_length", "revision", "resync", "events"})
      EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(json::parse(chunks[0])["events"].size(), 1u);
  EXPECT_EQ(json::parse(chunks[1])["events"], json::array());
}

TEST_F(StreamedWatch, TwoStreamsAtOneRevisionReceiveIdenticalLines) {
  register_app("a");
  register_app("b");
  const std::string query = "since=" + std::to_string(revision()) + "&stream=1&timeout=300";
  auto one = stream(query), two = stream(query);
  ASSERT_TRUE(one->wait_lines(1));
  ASSERT_TRUE(two->wait_lines(1));
  allow("a", "b");
  ASSERT_TRUE(one->wait_lines(2));
  ASSERT_TRUE(two->wait_lines(2));
  // What a long poll at the same revision answers is the very same text.
  auto poll = s().get("/internal/v1/watch?" + query.substr(0, query.find('&')) + "&timeout=0");
  EXPECT_EQ(poll.body, one->raw()[1]);
  allow("b", "a");
  ASSERT_TRUE(one->wait_lines(3));
  ASSERT_TRUE(two->wait_lines(3));
  EXPECT_EQ(one->raw(), two->raw());
}

TEST_F(StreamedWatch, AHeartbeatLineComesWhenNothingCommits) {
  register_app("a");
  const int64_t rev = revision();
  auto reader = stream("since=" + std::to_string(rev) + "&stream=1&timeout=1");
  ASSERT_TRUE(reader->wait_lines(3, 10s));
  auto lines = reader->lines();
  auto times = reader->times();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i]["events"], json::array());
    EXPECT_EQ(lines[i]["revision"], rev);
    EXPECT_EQ(lines[i]["resync"], false);
  }
  // Every `timeout` seconds, not faster.
  EXPECT_GE(times[2] - times[1], 900ms);
  EXPECT_LE(times[2] - times[1], 3s);
}

TEST_F(StreamedWatch, AheadOfTheStoreSendsAResyncLineAndEndsTheStream) {
  register_app("a");
  http::Client client({"127.0.0.1", std::to_string(s().port())}, s().admin_token());
  std::vector<json> lines;
  auto r = client.stream(
      "/internal/v1/watch?since=99&stream=1&timeout=300",
      [&](std::string_view line) {
        lines.push_back(json::parse(line));
        return true;
      },
      10s);
  ASSERT_TRUE(r) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(r->status, 200u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["resync"], true);
  EXPECT_EQ(lines[0]["events"], json::array());
  EXPECT_EQ(lines[0]["revision"], 1);
  // The stream ended with its last chunk: the connection goes on serving requests.
  auto status = client.request("GET", "/internal/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200u);
  EXPECT_TRUE(until_streams(0));
}

TEST_F(StreamedWatch, AfterAStreamEndsTheConnectionServesTheNextRequest) {
  register_app("a");
  RawConnection c(s().port());
  ASSERT_TRUE(c.send_get("/internal/v1/watch?since=99&stream=1", s().admin_token()));
  auto complete_stream = [](const std::string& in) {
    bool complete = false;
    if (size_t head = in.find("\r\n\r\n"); head != std::string::npos)
      chunks_of(std::string_view(in).substr(head + 4), complete);
    return complete;
  };
  std::string got = c.read_until(complete_stream);
  ASSERT_TRUE(complete_stream(got)) << got;
  ASSERT_TRUE(c.send_get("/internal/v1/status", s().admin_token()));
  got = c.read_until([&](const std::string& in) {
    return in.size() > got.size() && in.find("\"revision\"", got.size()) != std::string::npos;
  });
  EXPECT_NE(got.find("HTTP/1.1 200 OK", got.find("0\r\n\r\n")), std::string::npos) << got;
}

TEST_F(StreamedWatch, TimeoutZeroSendsOneLineAndEnds) {
  register_app("a");
  http::Client client({"127.0.0.1", std::to_string(s().port())}, s().admin_token());
  size_t lines = 0;
  auto r = client.stream(
      "/internal/v1/watch?since=0&stream=1&timeout=0",
      [&](std::string_view line) {
        EXPECT_EQ(json::parse(line)["events"].size(), 1u);
        ++lines;
        return true;
      },
      10s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(lines, 1u);
}

TEST_F(StreamedWatch, ABacklogComesInBatchesOfAtMostAThousandEvents) {
  for (int i = 0; i < 1003; ++i) {
    auto r = s().post("/app", json{{"guid", "app-" + std::to_string(i)}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  auto reader = stream("since=0&stream=1&timeout=300");
  ASSERT_TRUE(reader->wait_lines(2));
  auto lines = reader->lines();
  ASSERT_EQ(lines[0]["events"].size(), 1000u);
  EXPECT_EQ(lines[0]["revision"], 1000);
  ASSERT_EQ(lines[1]["events"].size(), 3u);
  EXPECT_EQ(lines[1]["events"][0]["revision"], 1001);
  EXPECT_EQ(lines[1]["revision"], 1003);
}

TEST_F(StreamedWatch, BadStreamValuesAreRejectedWithTheErrorBody) {
  struct Case {
    std::string query;
    std::string error_code;
  };
  for (const Case& c : std::vector<Case>{{"since=0&stream=2", "INVALID_STREAM"},
                                         {"since=0&stream=true", "INVALID_STREAM"},
                                         {"since=0&stream=", "INVALID_STREAM"},
                                         {"since=0&stream=01", "INVALID_STREAM"},
                                         {"since=0&stream=-1", "INVALID_STREAM"},
                                         {"stream=1", "INVALID_REVISION"},
                                         {"since=x&stream=1", "INVALID_REVISION"},
                                         {"since=0&stream=1&timeout=301", "INVALID_QUERY"}}) {
    SCOPED_TRACE(c.query);
    auto r = s().get("/internal/v1/watch?" + c.query);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.error_code(), c.error_code) << r.body;
    auto j = r.json();
    ASSERT_TRUE(j.is_array()) << r.body;
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0].size(), 2u) << "only error_code and message";
  }
  // stream=0 is the long poll.
  auto poll = s().get("/internal/v1/watch?since=0&stream=0&timeout=0");
  EXPECT_EQ(poll.status, 200);
  EXPECT_TRUE(poll.json().is_object()) << poll.body;
  EXPECT_EQ(streams(), 0);
}

TEST_F(StreamedWatch, NeedsACellOrAdminTokenLikeTheLongPoll) {
  const std::string target = "/internal/v1/watch?since=0&stream=1";
  for (const std::string& bad : {std::string(""), std::string("wt_wrong")}) {
    auto r = s().request("GET", target, "", bad);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
  }
  auto writer = s().request("GET", target, "", issue({"network.write"}, {"default"}));
  EXPECT_EQ(writer.status, 403);
  EXPECT_EQ(writer.error_code(), "FORBIDDEN");

  auto cell_token = s().post("/v1/tokens", R"({"scopes":["cell"],"cell":"cell1"})");
  ASSERT_EQ(cell_token.status, 201) << cell_token.body;
  StreamReader cell(s().port(), cell_token.json()["token"].get<std::string>(),
                    target + "&timeout=300");
  ASSERT_TRUE(cell.wait_lines(1));
  EXPECT_EQ(cell.lines()[0]["resync"], false);
  // Through the client: an error answer is returned whole, no line is passed on.
  http::Client anonymous({"127.0.0.1", std::to_string(s().port())});
  bool called = false;
  auto r = anonymous.stream(
      target, [&](std::string_view) { return called = true; }, 10s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 401u);
  EXPECT_EQ(r->error_code(), "UNAUTHORIZED");
  EXPECT_FALSE(called);
}

TEST_F(StreamedWatch, CancelEndsABlockedStreamPromptly) {
  auto reader = stream("since=0&stream=1&timeout=300");
  ASSERT_TRUE(reader->wait_lines(1));
  reader->cancel();
  ASSERT_TRUE(reader->wait_end(5s));  // a liveness bound: without cancel it would wait 300 s
  auto r = reader->result();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "CANCELLED");
  EXPECT_TRUE(until_streams(0)) << "the server noticed the client left";
}

TEST_F(StreamedWatch, NoByteForTheIdleDeadlineIsATimeout) {
  auto reader = stream("since=0&stream=1&timeout=300", 500ms);
  ASSERT_TRUE(reader->wait_end(10s));
  auto r = reader->result();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "TIMEOUT");
  EXPECT_EQ(reader->raw().size(), 1u);
}

TEST_F(StreamedWatch, ServerShutdownEndsEveryStreamCleanly) {
  register_app("a");
  std::vector<std::unique_ptr<StreamReader>> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(stream("since=1&stream=1&timeout=300"));
  for (auto& r : readers) ASSERT_TRUE(r->wait_lines(1));
  // terminate() gives up (and returns -1) after 30 s: a liveness bound, not a speed test.
  EXPECT_EQ(s().terminate(), 0);
  for (auto& reader : readers) {
    ASSERT_TRUE(reader->wait_end(10s));
    auto r = reader->result();
    ASSERT_TRUE(r) << "the stream must end with its last chunk, not be cut: " << r.error().code;
    EXPECT_EQ(r->status, 200u);
  }
}

TEST_F(StreamedWatch, AClientThatLeavesFreesItsStream) {
  RawConnection c(s().port());
  ASSERT_TRUE(c.send_get("/internal/v1/watch?since=0&stream=1&timeout=300", s().admin_token()));
  ASSERT_TRUE(until_streams(1));
  c.close();
  EXPECT_TRUE(until_streams(0)) << "noticed without waiting for a commit or a heartbeat";
  EXPECT_EQ(s().get("/internal/v1/status").json()["watches"], 0);
}

TEST_F(StreamedWatch, AClientThatStopsReadingLosesItsStreamAndTheServerStaysResponsive) {
  // Two bounds end a stream whose client stopped reading, whichever comes first: the 4 MiB
  // queue cap while commits push lines to it, or the write deadline (--read-timeout) once it
  // has fallen more than a batch behind and waits for its last line to drain (it then holds
  // one line, nothing more). Which one depends on how commits and writes interleave on the
  // machine, so the test asks only that the stream ends, cut short, and the rest goes on.
  server_.reset();
  start({"--read-timeout", "5"});
  register_app("a");
  RawConnection stalled(s().port(), 4096);
  ASSERT_TRUE(
      stalled.send_get("/internal/v1/watch?since=1&stream=1&timeout=300", s().admin_token()));
  ASSERT_TRUE(until_streams(1));
  auto reader = stream("since=1&stream=1&timeout=300");  // one that keeps up
  ASSERT_TRUE(reader->wait_lines(1));
  ASSERT_TRUE(until_streams(2));

  // Policy versions of 5000 rules: each policy.updated event carries two rule lists, about
  // 0.6 MB a line, so a few of them pass the 4 MiB cap once the kernel's buffers are full.
  auto policy = [](int version) {
    json rules = json::array();
    for (int port = 1; port <= 5000; ++port)
      rules.push_back({{"source", "*"},
                       {"destination", "a"},
                       {"protocol", version % 2 ? "tcp" : "udp"},
                       {"ports", {{"start", port}, {"end", port}}}});
    return json{{"name", "big"}, {"rules", rules}}.dump();
  };
  auto created = s().post("/v1/accounts/default/policies", policy(0));
  ASSERT_EQ(created.status, 201) << created.body.substr(0, 300);
  const std::string at =
      "/v1/accounts/default/policies/" + created.json()["result"].value("id", std::string());
  int updates = 0;
  for (; updates < 80 && streams() == 2; ++updates) {
    auto r = s().request("PUT", at, policy(updates + 1));
    ASSERT_EQ(r.status, 200) << r.body;
    // The server answers everything else meanwhile.
    EXPECT_EQ(s().get("/internal/v1/status").status, 200);
  }
  ASSERT_TRUE(until_streams(1)) << "after " << updates << " updates the stalled stream is open";
  // The reader that keeps up still has its stream and every version.
  const int64_t last = revision();
  for (int i = 0; i < 2000 && reader->last()["revision"] != last; ++i)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(reader->last()["revision"], last);
  // The stalled client finds its stream cut short: no last chunk.
  std::string got = stalled.read_until([](const std::string&) { return false; });
  ASSERT_NE(got.find("\r\n\r\n"), std::string::npos);
  bool complete;
  auto chunks = chunks_of(std::string_view(got).substr(got.find("\r\n\r\n") + 4), complete);
  EXPECT_FALSE(complete);
  EXPECT_GE(chunks.size(), 1u);
}

}  // namespace
}  // namespace wiretag::test
