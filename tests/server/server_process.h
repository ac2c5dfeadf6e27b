// Test harness: runs wiretag-server on 127.0.0.1 port 0 with a temp data dir, and a small
// synchronous HTTP client. The process is killed when the ServerProcess goes away.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace wiretag::test {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or closed)
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string error_code() const;  // error_code of a SPEC §4 error body, or ""
};

// WIRETAG_TEST_DB=postgresql: each ServerProcess gets --db with the URL this returns for its
// data dir (set by pg_cluster.cc where it is linked in; a test binary without it fails).
std::string (*&test_db_url_hook())(const std::filesystem::path& data_dir);

class ServerProcess {
 public:
  // Starts the server and waits for its "listening on" line; fails the test otherwise.
  explicit ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ != 0; }
  unsigned short port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& admin_token() const { return token_; }
  const std::string& output_file() const { return log_; }

  // SIGKILL, no chance to clean up.
  void kill_hard();
  // SIGTERM; returns the exit status (or -1 when it had to be killed).
  int terminate();

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "", std::optional<std::string> token = {}) const;
  HttpResult get(const std::string& target) const { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body) const {
    return request("POST", target, body);
  }

  // A PAP request (/policy/pap/v1 + path) with basic auth from the credentials the server
  // generated in its data dir.
  HttpResult pap(const std::string& method, const std::string& path,
                 const std::string& body = "") const;

  // Runs the binary to completion with these args; returns its exit status.
  static int run_to_exit(const std::vector<std::string>& args);

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::string token_;
  std::string log_;
  std::filesystem::path data_dir_;
};

// A test with a server of its own on a fresh data dir (dir_ / "data"), started by SetUp; to
// run it with other flags: server_.reset(), then start(flags).
class ServerTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    server_.reset();  // one server per SQLite data dir: the old one ends first
    server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::move(extra));
    ASSERT_TRUE(server_->started()) << "server did not start; see " << server_->output_file();
  }
  void SetUp() override { start(); }
  ServerProcess& s() { return *server_; }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

// Child processes of the tests: bin with args, stdout and stderr into log (truncated).
pid_t spawn_logged(const std::string& bin, const std::vector<std::string>& args,
                   const std::string& log);
// The port of the child's "listening on 127.0.0.1:PORT" line (alone, or a JSON record's
// message), polled every 10 ms up to
// `tries` times; 0 when it never came or the child died (then pid becomes -1).
unsigned short wait_for_listening(pid_t& pid, const std::string& log, int tries);
// SIGKILL and reap; pid becomes -1.
void kill_child(pid_t& pid);
// SIGTERM, then SIGKILL after 30 s; the exit status, or -1.
int terminate_child(pid_t& pid);

// One request on a fresh connection to 127.0.0.1:port.
HttpResult http_request(unsigned short port, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& bearer);
// The same with any Authorization header ("" for none).
HttpResult http_request_authorized(unsigned short port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::string& authorization);

}  // namespace wiretag::test
