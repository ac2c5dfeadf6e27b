#include "server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace wiretag::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

std::string HttpResult::error_code() const {
  auto j = json();
  if (!j.is_array() || j.size() != 1 || !j[0].is_object() || !j[0].contains("error_code") ||
      !j[0].contains("message") || !j[0]["error_code"].is_string())
    return "";
  return j[0]["error_code"].get<std::string>();
}

pid_t spawn_logged(const std::string& bin, const std::vector<std::string>& args,
                   const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    std::string path = bin;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

unsigned short wait_for_listening(pid_t& pid, const std::string& log, int tries) {
  for (int i = 0; i < tries; ++i) {
    std::ifstream in(log);
    std::string line;
    unsigned short port = 0;
    while (std::getline(in, line)) {
      // The line alone (--log-format text) or a JSON record's message (json).
      constexpr std::string_view kPrefix = "listening on 127.0.0.1:";
      constexpr std::string_view kJsonPrefix = "\"message\":\"listening on 127.0.0.1:";
      if (line.rfind(kPrefix, 0) == 0)
        port = static_cast<unsigned short>(std::stoi(line.substr(kPrefix.size())));
      else if (size_t at = line.find(kJsonPrefix); line.starts_with('{') && at != line.npos)
        port = static_cast<unsigned short>(std::stoi(line.substr(at + kJsonPrefix.size())));
    }
    if (port) return port;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

void kill_child(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  pid = -1;
}

int terminate_child(pid_t& pid) {
  if (pid <= 0) return -1;
  ::kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_child(pid);
  return -1;
}

// WIRETAG_TEST_SERVER_BIN runs the tests against another build (e.g. an older release's).
static const char* server_bin() {
  const char* other = std::getenv("WIRETAG_TEST_SERVER_BIN");
  return other && *other ? other : WIRETAG_SERVER_BIN;
}

std::string (*&test_db_url_hook())(const std::filesystem::path& data_dir) {
  static std::string (*hook)(const std::filesystem::path&) = nullptr;
  return hook;
}

// With WIRETAG_TEST_DB=postgresql, the server of data_dir uses that data dir's database.
static void add_test_db(std::vector<std::string>& args, const std::filesystem::path& data_dir) {
  const char* db = std::getenv("WIRETAG_TEST_DB");
  if (!db || std::string_view(db) == "sqlite") return;
  if (!test_db_url_hook())
    ADD_FAILURE() << "WIRETAG_TEST_DB=" << db << ": this test binary has no pg_cluster.cc";
  else
    args.insert(args.end(), {"--db", test_db_url_hook()(data_dir)});
}

ServerProcess::ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra)
    : data_dir_(data_dir) {
  static int counter = 0;
  log_ = (data_dir.parent_path() /
          (data_dir.filename().string() + ".log." + std::to_string(++counter)))
             .string();
  std::vector<std::string> args = {"--listen",        "127.0.0.1:0", "--data-dir",
                                   data_dir.string(), "--threads",   "4"};
  add_test_db(args, data_dir);
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = spawn_logged(server_bin(), args, log_);
  port_ = wait_for_listening(pid_, log_, 2000);
  std::ifstream tok(data_dir / "admin-token");
  std::getline(tok, token_);
}

ServerProcess::~ServerProcess() { kill_hard(); }

void ServerProcess::kill_hard() { kill_child(pid_); }

int ServerProcess::terminate() { return terminate_child(pid_); }

int ServerProcess::run_to_exit(const std::vector<std::string>& args) {
  std::string log = (std::filesystem::temp_directory_path() /
                     ("wiretag-server-run-" + std::to_string(::getpid()) + ".log"))
                        .string();
  // The same database as the servers of the same --data-dir (unless the test names --db).
  std::vector<std::string> all = args;
  const bool names_db = std::find(args.begin(), args.end(), "--db") != args.end();
  if (auto it = std::find(args.begin(), args.end(), "--data-dir");
      !names_db && it != args.end() && it + 1 != args.end())
    add_test_db(all, *(it + 1));
  pid_t pid = spawn_logged(server_bin(), all, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HttpResult ServerProcess::request(const std::string& method, const std::string& target,
                                  const std::string& body, std::optional<std::string> token) const {
  return http_request(port_, method, target, body, token.value_or(token_));
}

HttpResult http_request(unsigned short port, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& bearer) {
  return http_request_authorized(port, method, target, body,
                                 bearer.empty() ? std::string() : "Bearer " + bearer);
}

HttpResult ServerProcess::pap(const std::string& method, const std::string& path,
                              const std::string& body) const {
  std::ifstream in(data_dir_ / "pap-credentials");
  std::string user_password;
  std::getline(in, user_password);
  std::string encoded(beast::detail::base64::encoded_size(user_password.size()), '\0');
  encoded.resize(
      beast::detail::base64::encode(encoded.data(), user_password.data(), user_password.size()));
  return http_request_authorized(port_, method, "/policy/pap/v1" + path, body, "Basic " + encoded);
}

HttpResult http_request_authorized(unsigned short port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::string& authorization) {
  HttpResult out;
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(stream, buffer, parser);
    out.status = parser.get().result_int();
    out.body = parser.get().body();
    for (const auto& field : parser.get()) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  } catch (const std::exception&) {
    // status stays 0: no complete response
  }
  return out;
}

}  // namespace wiretag::test
