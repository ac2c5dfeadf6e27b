#include "cli/api_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <CLI/CLI.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/yaml_json.h"
#include "http/client.h"
#include "http/tls.h"
#include "wiretag/error_kind.h"

namespace wiretag::cli {

using nlohmann::json;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

void usage_error(const std::string& message) { throw CommandError(kExitUsage, message); }

void api_error(const Error& e) { throw CommandError(kExitApiError, e.code + ": " + e.message); }

Globals& globals() {
  static Globals g;
  return g;
}

void add_global_flags(CLI::App& app) {
  Globals& g = globals();
  app.add_option("--server", g.server, "the policy server's URL (http:// or https://)")
      ->envname("WIRETAG_SERVER")
      ->capture_default_str();
  app.add_option("--agent", g.agent,
                 "an agent's Plugin API: unix:PATH (its root-only socket) or http[s]://HOST:PORT "
                 "(with --plugin-tcp)")
      ->envname("WIRETAG_AGENT")
      ->capture_default_str();
  app.add_option("--agent-token-file", g.agent_token_file,
                 "file holding the bearer token of an agent's TCP Plugin API (--plugin-token-file)")
      ->envname("WIRETAG_AGENT_TOKEN_FILE");
  app.add_option("--token-file", g.token_file,
                 "file holding the bearer token (else $WIRETAG_TOKEN, else "
                 "<data-dir>/admin-token)")
      ->envname("WIRETAG_TOKEN_FILE");
  app.add_option("--pap-credentials", g.pap_credentials,
                 "file holding the PAP API's user:password (else <data-dir>/pap-credentials)")
      ->envname("WIRETAG_PAP_CREDENTIALS_FILE");
  app.add_option("--data-dir", g.data_dir,
                 "the server's data dir, where the default credentials are looked for")
      ->envname("WIRETAG_DATA_DIR")
      ->capture_default_str();
  app.add_option("--ca", g.ca, "CA bundle (PEM) that signed the server's certificate, for https://")
      ->envname("WIRETAG_CA");
  app.add_option("--timeout", g.timeout_seconds, "seconds to wait for each answer")
      ->envname("WIRETAG_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "-o,--output",
         [&g](const std::string& name) {
           g.output = name == "json"   ? OutputFormat::Json
                      : name == "yaml" ? OutputFormat::Yaml
                                       : OutputFormat::Table;
         },
         "table | json | yaml: how every read is printed")
      ->envname("WIRETAG_OUTPUT")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->default_str("table");
  // Global flags may follow the command too: `wiretag app list -o json`.
  app.fallthrough();
}

void show(const json& value, const std::function<Table(const json&)>& as_table) {
  print(value, globals().output, as_table);
}

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The bearer token: --token-file, else $WIRETAG_TOKEN, else <data-dir>/admin-token.
std::string bearer_token() {
  const Globals& g = globals();
  if (!g.token_file.empty()) {
    auto text = read_file(g.token_file);
    if (!text) usage_error("cannot read --token-file " + g.token_file);
    return trim(*text);
  }
  if (const char* env = std::getenv("WIRETAG_TOKEN"); env && *env) return trim(env);
  if (auto text = read_file(g.data_dir + "/admin-token")) return trim(*text);
  return {};
}

// user:password for the PAP API: --pap-credentials, else <data-dir>/pap-credentials (its
// first line).
std::string pap_credentials() {
  const Globals& g = globals();
  const std::string path =
      g.pap_credentials.empty() ? g.data_dir + "/pap-credentials" : g.pap_credentials;
  auto text = read_file(path);
  if (!text) {
    if (g.pap_credentials.empty()) return {};
    usage_error("cannot read --pap-credentials " + path);
  }
  std::string line = text->substr(0, text->find('\n'));
  line = trim(line);
  if (line.find(":$") != std::string::npos)
    usage_error(path + " holds a hashed password; give the CLI a file with user:password");
  return line;
}

std::shared_ptr<boost::asio::ssl::context> tls_context() {
  static std::shared_ptr<boost::asio::ssl::context> ctx;
  if (!ctx) {
    auto made = http::make_client_tls_context(http::TlsClientFiles{globals().ca});
    if (!made) usage_error(made.error().code + ": " + made.error().message);
    ctx = *made;
  }
  return ctx;
}

std::chrono::milliseconds timeout() {
  return std::chrono::milliseconds(static_cast<int64_t>(globals().timeout_seconds * 1000));
}

ApiAnswer answer_of(unsigned status, const std::string& text) {
  ApiAnswer a{status, nullptr};
  if (text.empty()) return a;
  a.body = json::parse(text, nullptr, false);
  if (a.body.is_discarded()) a.body = text;  // not JSON: keep the text
  return a;
}

// Over an HTTP(S) base URL with one Authorization header (or none).
ApiAnswer http_request(const std::string& url, const std::string& authorization_kind,
                       const std::string& credential, std::string_view method,
                       const std::string& target, const json& body) {
  auto base = http::parse_base_url(url);
  if (!base) usage_error("invalid URL " + url + " (http://HOST:PORT or https://HOST:PORT)");
  http::Client client(*base, authorization_kind == "bearer" ? credential : std::string{},
                      base->tls ? tls_context() : nullptr);
  if (authorization_kind == "basic") client.set_basic_auth(credential);
  const std::string text = body.is_null() ? std::string{} : body.dump();
  auto r = client.request(method, target, text, timeout());
  if (!r) api_error(Error{r.error().code, url + ": " + r.error().message});
  return answer_of(r->status, r->body);
}

// Over a unix socket: one request, one answer.
ApiAnswer unix_request(const std::string& path, std::string_view method, const std::string& target,
                       const json& body) {
  namespace local = boost::asio::local;
  boost::asio::io_context ioc;
  local::stream_protocol::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(local::stream_protocol::endpoint(path), ec);
  if (ec)
    api_error(Error{"AGENT_UNREACHABLE", "unix:" + path + ": " + ec.message() +
                                             (ec == boost::asio::error::access_denied
                                                  ? " (the Plugin API socket is root-only)"
                                                  : "")});
  bhttp::request<bhttp::string_body> req{
      bhttp::string_to_verb(boost::beast::string_view(method.data(), method.size())), target, 11};
  req.set(bhttp::field::host, "localhost");
  if (!body.is_null()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body.dump();
  }
  req.prepare_payload();
  bhttp::write(socket, req, ec);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  if (!ec) bhttp::read(socket, buffer, parser, ec);
  if (ec) api_error(Error{"AGENT_UNREACHABLE", "unix:" + path + ": " + ec.message()});
  return answer_of(parser.get().result_int(), parser.get().body());
}

// Splits chunk data into lines; false once on_line asked to stop.
class LineSplitter {
 public:
  explicit LineSplitter(const LineHandler& on_line) : on_line_(on_line) {}
  bool feed(std::string_view data) {
    for (size_t i = 0; i < data.size() && !stopped_;) {
      size_t nl = data.find('\n', i);
      size_t end = nl == std::string_view::npos ? data.size() : nl;
      partial_.append(data.data() + i, end - i);
      if (nl == std::string_view::npos) break;
      if (!on_line_(partial_)) stopped_ = true;
      partial_.clear();
      i = nl + 1;
    }
    return !stopped_;
  }
  bool stopped() const { return stopped_; }

 private:
  const LineHandler& on_line_;
  std::string partial_;
  bool stopped_ = false;
};

// Calls `expire` once `after` has passed (zero: never), unless destroyed first.
class Watchdog {
 public:
  Watchdog(std::chrono::milliseconds after, std::function<void()> expire) {
    if (after.count() == 0) return;
    thread_ = std::thread([this, after, expire = std::move(expire)] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, after, [this] { return done_; })) {
        expired_ = true;
        expire();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool expired() {
    std::lock_guard lock(mu_);
    return expired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, expired_ = false;
  std::thread thread_;
};

void http_stream(const std::string& url, const std::string& bearer, const std::string& target,
                 const LineHandler& on_line, std::chrono::milliseconds stop_after,
                 std::chrono::milliseconds idle) {
  auto base = http::parse_base_url(url);
  if (!base) usage_error("invalid URL " + url + " (http://HOST:PORT or https://HOST:PORT)");
  http::Client client(*base, bearer, base->tls ? tls_context() : nullptr);
  Watchdog watchdog(stop_after, [&client] { client.cancel(); });
  auto r = client.stream(target, on_line, idle);
  if (!r) {
    if (is(r.error(), ErrorKind::Cancelled) && watchdog.expired()) return;
    api_error(Error{r.error().code, url + ": " + r.error().message});
  }
  if (r->status >= 400) checked(answer_of(r->status, r->body));
}

void unix_stream(const std::string& path, const std::string& target, const LineHandler& on_line,
                 std::chrono::milliseconds stop_after, std::chrono::milliseconds idle) {
  namespace local = boost::asio::local;
  boost::asio::io_context ioc;
  local::stream_protocol::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(local::stream_protocol::endpoint(path), ec);
  if (ec)
    api_error(Error{"AGENT_UNREACHABLE", "unix:" + path + ": " + ec.message() +
                                             (ec == boost::asio::error::access_denied
                                                  ? " (the Plugin API socket is root-only)"
                                                  : "")});
  // Reads block: a receive timeout makes a silent stream fail, the watchdog ends it on time.
  timeval tv{static_cast<time_t>(idle.count() / 1000),
             static_cast<suseconds_t>(idle.count() % 1000 * 1000)};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "localhost");
  req.set(bhttp::field::accept, "application/x-ndjson");
  bhttp::write(socket, req, ec);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  if (!ec) bhttp::read_header(socket, buffer, parser, ec);
  if (ec) api_error(Error{"AGENT_UNREACHABLE", "unix:" + path + ": " + ec.message()});
  if (!parser.chunked()) {
    if (!parser.is_done()) bhttp::read(socket, buffer, parser, ec);
    checked(answer_of(parser.get().result_int(), parser.get().body()));
    return;
  }
  parser.body_limit(boost::none);
  LineSplitter lines(on_line);
  auto on_chunk = [&](std::uint64_t, beast::string_view data, boost::system::error_code&) {
    lines.feed(std::string_view(data.data(), data.size()));
    return data.size();
  };
  parser.on_chunk_body(on_chunk);
  Watchdog watchdog(stop_after, [&socket] { ::shutdown(socket.native_handle(), SHUT_RDWR); });
  while (!parser.is_done() && !lines.stopped()) {
    bhttp::read_some(socket, buffer, parser, ec);
    if (ec) break;
  }
  if (ec && !lines.stopped() && !watchdog.expired()) {
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again)
      api_error(Error{"TIMEOUT", "unix:" + path + ": the stream was silent too long"});
    if (ec != bhttp::error::end_of_stream)
      api_error(Error{"CONNECTION_CLOSED", "unix:" + path + ": " + ec.message()});
  }
}

std::string agent_bearer() {
  if (globals().agent_token_file.empty()) return {};
  auto text = read_file(globals().agent_token_file);
  if (!text) usage_error("cannot read --agent-token-file " + globals().agent_token_file);
  return trim(*text);
}

}  // namespace

void server_stream(const std::string& target, const LineHandler& on_line,
                   std::chrono::milliseconds stop_after, std::chrono::milliseconds idle) {
  http_stream(globals().server, bearer_token(), target, on_line, stop_after, idle);
}

void agent_stream(const std::string& target, const LineHandler& on_line,
                  std::chrono::milliseconds stop_after, std::chrono::milliseconds idle) {
  const std::string& agent = globals().agent;
  if (agent.rfind("unix:", 0) == 0)
    return unix_stream(agent.substr(5), target, on_line, stop_after, idle);
  http_stream(agent, agent_bearer(), target, on_line, stop_after, idle);
}

json checked(ApiAnswer a) {
  if (a.status < 400) return std::move(a.body);
  const json& b = a.body;
  if (b.is_array() && !b.empty() && b[0].is_object() && b[0].contains("error_code")) {
    const json& e = b[0];
    throw CommandError(kExitApiError, e.value("error_code", std::string("ERROR")) + ": " +
                                          e.value("message", std::string()) + " (HTTP " +
                                          std::to_string(a.status) + ")");
  }
  throw CommandError(kExitApiError, "HTTP " + std::to_string(a.status) + ": " +
                                        (b.is_string() ? b.get<std::string>() : b.dump()));
}

ApiAnswer server_request(Auth auth, std::string_view method, const std::string& target,
                         const json& body) {
  switch (auth) {
    case Auth::Bearer: {
      const std::string token = bearer_token();
      ApiAnswer a = http_request(globals().server, "bearer", token, method, target, body);
      if (a.status == 401 && token.empty())
        throw CommandError(kExitApiError,
                           "no bearer token: give --token-file FILE, set WIRETAG_TOKEN, or "
                           "point --data-dir at the server's data dir (its admin-token)");
      return a;
    }
    case Auth::Pap: {
      const std::string credentials = pap_credentials();
      ApiAnswer a = http_request(globals().server, "basic", credentials, method, target, body);
      if (a.status == 401 && credentials.empty())
        throw CommandError(kExitApiError,
                           "no PAP credentials: give --pap-credentials FILE (user:password) or "
                           "point --data-dir at the server's data dir (its pap-credentials)");
      return a;
    }
    case Auth::None:
      break;
  }
  return http_request(globals().server, "", "", method, target, body);
}

json server_call(Auth auth, std::string_view method, const std::string& target, const json& body) {
  return checked(server_request(auth, method, target, body));
}

json agent_call(std::string_view method, const std::string& target, const json& body) {
  const std::string& agent = globals().agent;
  if (agent.rfind("unix:", 0) == 0)
    return checked(unix_request(agent.substr(5), method, target, body));
  return checked(http_request(agent, "bearer", agent_bearer(), method, target, body));
}

std::string segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string query_value(std::string_view s) { return segment(s); }

json read_document(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    auto t = read_file(path);
    if (!t) usage_error("cannot read " + path);
    text = std::move(*t);
  }
  auto doc = yaml_to_json(text);
  if (!doc) usage_error(path + ": " + doc.error().code + ": " + doc.error().message);
  return std::move(*doc);
}

}  // namespace wiretag::cli
