#include "agent_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace wiretag::test {

int sh(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

AgentProcess::AgentProcess(std::vector<std::string> args, std::filesystem::path log)
    : log_(std::move(log)) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--plugin-socket") plugin_socket_ = args[i + 1];
    if (args[i] == "--state-dir" && plugin_socket_.empty())
      plugin_socket_ = std::filesystem::path(args[i + 1]) / "plugin.sock";
  }
  pid_ = spawn_logged(WIRETAG_AGENT_BIN, args, log_.string());
  port_ = wait_for_listening(pid_, log_.string(), 3000);
}

AgentProcess::~AgentProcess() { kill_hard(); }

int AgentProcess::run_to_exit(const std::vector<std::string>& args) {
  std::string log = (std::filesystem::temp_directory_path() /
                     ("wiretag-agent-run-" + std::to_string(::getpid()) + ".log"))
                        .string();
  pid_t pid = spawn_logged(WIRETAG_AGENT_BIN, args, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HttpResult unix_http_request(const std::filesystem::path& socket, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& authorization) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  HttpResult out;
  try {
    asio::io_context ioc;
    asio::local::stream_protocol::socket stream(ioc);
    stream.connect(asio::local::stream_protocol::endpoint(socket.string()));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "localhost");
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
    beast::error_code ec;
    stream.shutdown(asio::local::stream_protocol::socket::shutdown_both, ec);
  } catch (const std::exception&) {
    // status stays 0: no complete response
  }
  return out;
}

bool AgentProcess::alive() {
  if (pid_ <= 0) return false;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string AgentProcess::log_text() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void AgentProcess::kill_hard() { kill_child(pid_); }

int AgentProcess::terminate() { return terminate_child(pid_); }

TestNetns::TestNetns() {
  std::random_device rd;
  name_ = "wta" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
  sh("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up");
}

TestNetns::~TestNetns() { sh("ip netns del " + name_ + " 2>/dev/null"); }

bool TestNetns::add_veth(const std::string& ifname) {
  return sh("ip -n " + name_ + " link add " + ifname + " type veth peer name " + ifname +
            "p && ip -n " + name_ + " link set " + ifname + " up && ip -n " + name_ + " link set " +
            ifname + "p up") == 0;
}

bool TestNetns::del_link(const std::string& ifname) {
  return sh("ip -n " + name_ + " link del " + ifname) == 0;
}

}  // namespace wiretag::test
