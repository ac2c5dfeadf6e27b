#include "cli/api_client.h"

#include <CLI/CLI.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "common/yaml_json.h"
#include "http/client.h"
#include "http/tls.h"

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

}  // namespace

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
  std::string token;
  if (!globals().agent_token_file.empty()) {
    auto text = read_file(globals().agent_token_file);
    if (!text) usage_error("cannot read --agent-token-file " + globals().agent_token_file);
    token = trim(*text);
  }
  return checked(http_request(agent, "bearer", token, method, target, body));
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
