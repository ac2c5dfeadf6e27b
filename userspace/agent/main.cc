// wiretag-agent: the cell agent (SPEC §1). Owns this cell's BPF programs and maps (adopting
// what a previous agent pinned), follows the policy server by push, reports PDP_STATUS
// heartbeats and serves the Policy Plugin API. See docs/agent.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/agent_metrics.h"
#include "agent/cell.h"
#include "agent/cell_ops.h"
#include "agent/cell_requests.h"
#include "agent/event_forwarder.h"
#include "agent/event_hub.h"
#include "agent/plugin_access.h"
#include "agent/plugin_api.h"
#include "agent/ready_notice.h"
#include "agent/server_link.h"
#include "agent/tag_directory.h"
#include "agent/underlay.h"
#include "common/command_line.h"
#include "common/daemon_env.h"
#include "common/log.h"
#include "common/sd_notify.h"
#include "datapath/libbpf_log.h"
#include "http/access_log.h"
#include "http/listen_address.h"
#include "http/log_level_route.h"
#include "http/server.h"
#include "http/tls.h"
#include "wiretag/version.h"

namespace {

namespace asio = boost::asio;
using nlohmann::json;

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "cell";
  return buf;
}

wiretag::Result<std::string> read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) return wiretag::Error{"TOKEN_FILE", "cannot read token file " + path};
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return wiretag::Error{"TOKEN_FILE", path + " is empty"};
  return token;
}

bool valid_cell_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
      return false;
  return true;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "wiretag-agent: the wiretag cell agent. Owns this cell's BPF programs and maps (pinned "
      "under --pin-dir, adopted across restarts), follows the policy server's changes by push "
      "(a streamed watch) and applies them to the containers' veths, sends PDP_STATUS heartbeats "
      "as a PDP of the PAP (its group's state sets the endpoints' mode, the policy versions "
      "deployed to the group are the rules), and serves the Policy Plugin API (POST/GET/DELETE "
      "/whitelist, GET /healthz, GET /v1/events: the cell's drops, named) on a unix socket only "
      "root may use (--plugin-socket); on "
      "--listen (TCP) it serves GET /healthz and GET /metrics (Prometheus), and the Plugin API "
      "only with --plugin-tcp."};
  std::vector<std::string> server{"http://127.0.0.1:4002"};
  std::string cell = hostname();
  std::string listen = "127.0.0.1:4100";
  wiretag::datapath::Options dp_options;
  std::string state_dir = "/var/lib/wiretag-agent";
  std::string token_file;
  std::string group = "defaultGroup";
  std::string log_level = "info";
  int heartbeat_ms = 10000;
  int resync_s = 300;
  int watch_timeout_s = 30;
  int sweep_ms = 2000;
  wiretag::http::ServerOptions http_options;
  std::string plugin_socket;
  bool plugin_tcp = false;
  std::string plugin_token_file;
  bool plugin_tcp_insecure = false;
  cli.add_option("--server", server,
                 "policy server URL (http://HOST:PORT); several (repeated or comma-separated): "
                 "the agent fails over between them")
      ->envname("WIRETAG_AGENT_SERVER")
      ->capture_default_str();
  cli.add_option("--cell", cell, "this cell's name: its PDP name on the server")
      ->envname("WIRETAG_AGENT_CELL")
      ->capture_default_str();
  cli.add_option("--listen", listen,
                 "HOST:PORT of GET /healthz and /metrics (and of the Plugin API with "
                 "--plugin-tcp); port 0 lets the OS choose")
      ->envname("WIRETAG_AGENT_LISTEN")
      ->capture_default_str();
  cli.add_option("--pin-dir", dp_options.pin_dir,
                 "bpffs directory of this cell's pinned maps and programs (one agent per dir)")
      ->envname("WIRETAG_AGENT_PIN_DIR")
      ->capture_default_str();
  cli.add_option("--state-dir", state_dir, "directory of the agent's device table")
      ->envname("WIRETAG_AGENT_STATE_DIR")
      ->capture_default_str();
  cli.add_option("--token-file", token_file,
                 "file holding the bearer token for the server: a 'cell' token bound to --cell; "
                 "none: send no token (a server run with --insecure-no-auth)")
      ->envname("WIRETAG_AGENT_SERVER_TOKEN_FILE");
  cli.add_option("--tag-length", dp_options.tag_length, "bytes per wire tag; must match the server")
      ->envname("WIRETAG_AGENT_TAG_LENGTH")
      ->check(CLI::Range(1u, 4u))
      ->capture_default_str();
  cli.add_option("--group", group,
                 "PDP group of this cell (pdpGroup): what the PAP deploys to it is enforced here; "
                 "while the PAP does not know the group the cell fails closed (keeps what it "
                 "enforces, new devices deny tagged traffic) and reports NOT_HEALTHY")
      ->envname("WIRETAG_AGENT_GROUP")
      ->capture_default_str();
  cli.add_option("--heartbeat-interval", heartbeat_ms, "milliseconds between PDP_STATUS heartbeats")
      ->envname("WIRETAG_AGENT_HEARTBEAT_INTERVAL")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cli.add_option("--resync-interval", resync_s,
                 "seconds between full resyncs (each ± 20 % jitter), besides those on start and gaps")
      ->envname("WIRETAG_AGENT_RESYNC_INTERVAL")
      ->check(CLI::Range(5, 86400))
      ->capture_default_str();
  std::string watch_mode = "stream";
  cli.add_option("--watch", watch_mode,
                 "stream: one streamed watch answer, a line per change (the default); long-poll: a "
                 "request per change (for servers or proxies without streaming)")
      ->envname("WIRETAG_AGENT_WATCH")
      ->check(CLI::IsMember({"stream", "long-poll"}))
      ->capture_default_str();
  cli.add_option("--watch-timeout", watch_timeout_s,
                 "seconds a watch long poll waits on the server; with --watch stream, between the "
                 "server's heartbeat lines")
      ->envname("WIRETAG_AGENT_WATCH_TIMEOUT")
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  cli.add_option("--sweep-interval", sweep_ms,
                 "milliseconds between checks for deleted devices (their state is then removed)")
      ->envname("WIRETAG_AGENT_SWEEP_INTERVAL")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  cli.add_option("--max-endpoints", dp_options.max_endpoints,
                 "endpoint capacity of the maps (each slot reserves 36.5 KiB + 1184 B per CPU)")
      ->envname("WIRETAG_AGENT_MAX_ENDPOINTS")
      ->check(CLI::Range(1u, static_cast<unsigned>(WT_MAX_SLOTS)))
      ->capture_default_str();
  cli.add_option("--max-policy-entries", dp_options.max_policy_entries,
                 "capacity of each policy map (both rule generations together)")
      ->envname("WIRETAG_AGENT_MAX_POLICY_ENTRIES")
      ->capture_default_str();
  cli.add_option("--events-per-sec", dp_options.events_per_sec,
                 "drop and audit events the datapath sends per second and CPU; the rest are "
                 "counted, and reported to event readers as lost (set when the programs load)")
      ->envname("WIRETAG_AGENT_EVENTS_PER_SEC")
      ->check(CLI::Range(1u, 10000000u))
      ->capture_default_str();
  cli.add_option("--max-connections", http_options.max_connections,
                 "Plugin API connections open at once; one more is answered 503 SERVER_BUSY")
      ->envname("WIRETAG_AGENT_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cli.add_option("--max-buffered-body-bytes", http_options.max_buffered_body_bytes,
                 "Plugin API request body bytes held at once; a request past it is answered 503 "
                 "SERVER_BUSY")
      ->envname("WIRETAG_AGENT_MAX_BUFFERED_BODY_BYTES")
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40))
      ->capture_default_str();
  cli.add_option("--plugin-socket", plugin_socket,
                 "unix socket of the Plugin API, mode 0600 (the agent's user, root, only); "
                 "default <state-dir>/plugin.sock, so agents with their own state dirs keep apart")
      ->envname("WIRETAG_AGENT_PLUGIN_SOCKET");
  auto* tcp_flag =
      cli.add_flag("--plugin-tcp", plugin_tcp,
                   "serve the Plugin API on --listen (TCP) too, behind --plugin-token-file")
          ->envname("WIRETAG_AGENT_PLUGIN_TCP");
  cli.add_option("--plugin-token-file", plugin_token_file,
                 "file holding the bearer token the Plugin API on TCP requires")
      ->envname("WIRETAG_AGENT_PLUGIN_TOKEN_FILE")
      ->needs(tcp_flag);
  cli.add_flag("--plugin-tcp-insecure", plugin_tcp_insecure,
               "with --plugin-tcp and no token file: anyone who reaches --listen may change "
               "what containers receive (logged as a warning)")
      ->envname("WIRETAG_AGENT_PLUGIN_TCP_INSECURE")
      ->needs(tcp_flag);
  wiretag::http::TlsClientFiles server_tls;
  cli.add_option("--ca", server_tls.ca_file,
                 "PEM CA that signed an https:// --server's certificate (default: the system's "
                 "CAs); the name or address in --server is verified")
      ->envname("WIRETAG_AGENT_CA")
      ->check(CLI::ExistingFile);
  cli.add_option("--client-cert", server_tls.cert_file,
                 "PEM certificate naming this cell (SAN URI wiretag:cell:NAME or CN) for mutual "
                 "TLS with the server, instead of (or beside) --token-file")
      ->envname("WIRETAG_AGENT_CLIENT_CERT")
      ->check(CLI::ExistingFile);
  cli.add_option("--client-key", server_tls.key_file, "PEM private key of --client-cert")
      ->envname("WIRETAG_AGENT_CLIENT_KEY")
      ->check(CLI::ExistingFile);
  wiretag::http::TlsServerFiles listen_tls;
  cli.add_option("--tls-cert", listen_tls.cert_file,
                 "PEM certificate chain: --listen serves HTTPS (health, and the Plugin API with "
                 "--plugin-tcp)")
      ->envname("WIRETAG_AGENT_TLS_CERT")
      ->check(CLI::ExistingFile);
  cli.add_option("--tls-key", listen_tls.key_file, "PEM private key of --tls-cert")
      ->envname("WIRETAG_AGENT_TLS_KEY")
      ->check(CLI::ExistingFile);
  wiretag::datapath::Device underlay;
  std::vector<std::string> vteps;
  cli.add_option("--underlay", underlay.ifname,
                 "the cell's underlay device (where VXLAN from other cells arrives): the XDP gate "
                 "is attached to it, its addresses are reported as this cell's VTEP and the "
                 "server's set of every cell's VTEPs is what the gate believes")
      ->envname("WIRETAG_AGENT_UNDERLAY");
  cli.add_option("--underlay-netns", underlay.netns,
                 "netns file of the --underlay device (default: the agent's own namespace)")
      ->envname("WIRETAG_AGENT_UNDERLAY_NETNS");
  cli.add_option("--vtep", vteps,
                 "this cell's VTEP address (repeatable), reported in PDP_STATUS; default: the "
                 "--underlay device's addresses")
      ->envname("WIRETAG_AGENT_VTEP");
  cli.add_option("--vxlan-port", dp_options.vxlan_port, "the UDP port of VXLAN the gate inspects")
      ->envname("WIRETAG_AGENT_VXLAN_PORT")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("WIRETAG_AGENT_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  std::string log_format = "text";
  cli.add_option("--log-format", log_format,
                 "text, or json: one JSON object per line (time, level, program, logger, "
                 "message and the record's fields)")
      ->envname("WIRETAG_AGENT_LOG_FORMAT")
      ->capture_default_str();
  bool access_log = true;
  cli.add_option("--access-log", access_log,
                 "one info line per HTTP request (Plugin API and --listen): method, route, path, "
                 "status, duration, principal; false turns it off")
      ->envname("WIRETAG_AGENT_ACCESS_LOG")
      ->capture_default_str();
  cli.set_version_flag("--version", wiretag::version_line("wiretag-agent"));
  // Settings under their names before WIRETAG_AGENT_* (common/daemon_env.h).
  auto legacy_env = wiretag::adopt_legacy_env(wiretag::agent_legacy_env());
  if (!legacy_env.error.empty()) {
    std::fprintf(stderr, "wiretag-agent: %s\n", legacy_env.error.c_str());
    return 2;
  }
  if (auto exit_status = wiretag::parse_command_line(cli, argc, argv)) return *exit_status;
  auto format = wiretag::parse_log_format(log_format);
  if (!format) {
    std::fprintf(stderr, "--log-format: %s\n", format.error().message.c_str());
    return 2;
  }
  wiretag::init_logging(log_level, *format, "wiretag-agent");
  wiretag::route_libbpf_logs();
  for (const std::string& warning : legacy_env.warnings) spdlog::warn("{}", warning);

  if (!valid_cell_name(cell)) {
    spdlog::error("--cell \"{}\": 1-128 characters of [A-Za-z0-9._-]", cell);
    return 2;
  }
  auto servers = wiretag::agent::parse_server_list(server);
  if (!servers) {
    spdlog::error("--server: {}", servers.error().message);
    return 2;
  }
  const wiretag::http::BaseUrl* base = &servers->front();
  if (std::any_of(servers->begin(), servers->end(),
                  [&](const auto& u) { return u.tls != base->tls; })) {
    spdlog::error("--server: every server is http:// or every one https://");
    return 2;
  }
  auto endpoint = wiretag::http::parse_listen_address(listen);
  if (!endpoint) {
    spdlog::error("--listen {}: {}", listen, endpoint.error().message);
    return 2;
  }
  std::shared_ptr<asio::ssl::context> server_tls_context;
  if (base->tls || !server_tls.ca_file.empty() || !server_tls.cert_file.empty()) {
    if (!base->tls) {
      spdlog::error("--ca/--client-cert need an https:// --server");
      return 2;
    }
    auto ctx = wiretag::http::make_client_tls_context(server_tls);
    if (!ctx) {
      spdlog::error("TLS: {}", ctx.error().message);
      return 2;
    }
    server_tls_context = *ctx;
  }
  wiretag::http::ServerOptions tcp_options = http_options;
  if (!listen_tls.cert_file.empty() || !listen_tls.key_file.empty()) {
    auto ctx = wiretag::http::make_server_tls_context(listen_tls);
    if (!ctx) {
      spdlog::error("TLS: {}", ctx.error().message);
      return 2;
    }
    tcp_options.tls = *ctx;
  }
  if (plugin_socket.empty())
    plugin_socket = (std::filesystem::path(state_dir) / "plugin.sock").string();
  std::string plugin_token;
  if (plugin_tcp && plugin_token_file.empty() && !plugin_tcp_insecure) {
    spdlog::error("--plugin-tcp needs --plugin-token-file (or, knowingly, --plugin-tcp-insecure)");
    return 2;
  }
  if (!plugin_token_file.empty()) {
    auto t = read_token(plugin_token_file);
    if (!t) {
      spdlog::error("--plugin-token-file: {}", t.error().message);
      return 2;
    }
    plugin_token = *t;
  }
  std::string token;
  if (!token_file.empty()) {
    auto t = read_token(token_file);
    if (!t) {
      spdlog::error("{}", t.error().message);
      return 2;
    }
    token = *t;
  }
  auto tags = wiretag::TagSpace::make(static_cast<int>(dp_options.tag_length));
  if (!tags) {
    spdlog::error("{}", tags.error().message);
    return 2;
  }

  auto dp = wiretag::datapath::Datapath::open(dp_options);
  if (!dp) {
    spdlog::error("datapath: {}: {}", dp.error().code, dp.error().message);
    return 1;
  }
  auto table = wiretag::agent::DeviceTable::open(state_dir);
  if (!table) {
    spdlog::error("state: {}: {}", table.error().code, table.error().message);
    return 1;
  }
  std::unique_ptr<wiretag::agent::Underlay> gate;
  if (!underlay.ifname.empty()) {
    // A VTEP the server's answers leave out goes after 3 heartbeats (a restarted server
    // answers with the cells heard so far).
    auto u = wiretag::agent::Underlay::open(**dp, underlay, vteps,
                                            std::chrono::milliseconds(3 * heartbeat_ms));
    if (!u) {
      spdlog::error("--underlay {}: {}: {}", underlay.ifname, u.error().code, u.error().message);
      return 1;
    }
    gate = std::move(*u);
  } else if (!vteps.empty()) {
    spdlog::error("--vtep needs --underlay (the device the gate guards)");
    return 2;
  }
  wiretag::agent::Cell cell_state(**dp, std::move(*table), *tags);
  if (auto r = cell_state.reconcile(); !r) {
    spdlog::error("reconcile: {}: {}", r.error().code, r.error().message);
    return 1;
  }

  wiretag::agent::LinkOptions link_options;
  link_options.server = *base;
  link_options.servers = std::make_shared<wiretag::agent::ServerPool>(
      *servers, link_options.backoff_min, link_options.backoff_max);
  link_options.token = token;
  link_options.tls = server_tls_context;
  link_options.cell = cell;
  link_options.group = group;
  link_options.tag_length = static_cast<int>(dp_options.tag_length);
  link_options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  link_options.resync_interval = std::chrono::seconds(resync_s);
  link_options.watch_timeout = std::chrono::seconds(watch_timeout_s);
  link_options.stream = watch_mode == "stream";
  if (gate) {
    link_options.vteps = [&gate](const std::vector<std::string>& v) {
      if (auto r = gate->learn(v); !r)
        spdlog::warn("gate: the server's VTEP set: {}: {}", r.error().code, r.error().message);
    };
  }
  wiretag::http::Metrics metrics;
  std::optional<wiretag::agent::AgentMetrics> agent_metrics;  // made before the link starts
  link_options.in_force = [&agent_metrics](int64_t at) { agent_metrics->in_force(at); };
  // The server's requests to this cell (trace, status, …) ride the streamed watch.
  wiretag::agent::CellRequests cell_requests(
      {*base, token, server_tls_context, cell, link_options.servers});
  link_options.take_request = [&](const json& line) { return cell_requests.take(line); };
  wiretag::agent::ServerLink link(link_options, cell_state);
  agent_metrics.emplace(metrics, **dp, link);

  // The Plugin API on its unix socket; on TCP health, and the Plugin API only when asked for.
  // GET /metrics on TCP without auth: it carries no secret (docs/metrics.md).
  wiretag::http::Router plugin_router;
  plugin_router.api("plugin");
  wiretag::agent::add_plugin_routes(plugin_router, cell_state, link);
  wiretag::http::Router tcp_router;
  tcp_router.api("plugin");
  wiretag::agent::add_plugin_routes(tcp_router, cell_state, link, plugin_tcp);
  tcp_router.api("metrics");
  wiretag::http::add_metrics_route(tcp_router, metrics);
  metrics.observe(plugin_router);
  metrics.observe(tcp_router);
  // Drop and audit events: the hub is the one reader of the ring buffer; it names each event
  // and fans it out to GET /v1/events readers and to the server (event_hub.h).
  wiretag::agent::TagDirectory tag_directory(
      wiretag::agent::server_tag_lookup(link_options.servers, token, server_tls_context));
  wiretag::agent::EventNamer event_namer(cell_state, tag_directory, cell);
  wiretag::agent::EventHub event_hub(**dp, event_namer, cell, {});
  auto forwarder =
      std::make_shared<wiretag::agent::EventForwarder>(wiretag::agent::EventForwarderOptions{
          *base, token, server_tls_context, cell, link_options.servers});
  event_hub.fanout().subscribe({}, forwarder, false);
  plugin_router.api("events");
  wiretag::agent::add_events_route(plugin_router, event_hub);
  if (plugin_tcp) {
    tcp_router.api("events");
    wiretag::agent::add_events_route(tcp_router, event_hub);
  }
  wiretag::agent::TraceService traces(cell_state, **dp, cell);
  wiretag::agent::add_cell_ops(cell_requests, cell_state, link, traces, **dp, cell);
  wiretag::agent::add_trace_route(plugin_router, traces);
  if (plugin_tcp) wiretag::agent::add_trace_route(tcp_router, traces);
  if (plugin_tcp && !plugin_token.empty()) wiretag::agent::require_bearer(tcp_router, plugin_token);
  // The log level at run time: on the root-only socket alone (whoever reaches it is root).
  plugin_router.api("system");
  wiretag::http::add_log_level_routes(plugin_router);
  plugin_router.default_principal("unix-socket");
  if (access_log) {
    wiretag::http::log_access(plugin_router);
    wiretag::http::log_access(tcp_router);
  }
  asio::io_context ioc(2);
  wiretag::http::Server plugin_server(ioc, plugin_router, http_options);
  if (auto r = plugin_server.listen_unix(plugin_socket, 0600); !r) {
    spdlog::error("--plugin-socket {}: {}", plugin_socket, r.error().message);
    return 1;
  }
  wiretag::http::Server http_server(ioc, tcp_router, tcp_options);
  auto bound = http_server.listen(*endpoint);
  if (!bound) {
    spdlog::error("{}", bound.error().message);
    return 1;
  }
  if (plugin_tcp && plugin_token.empty())
    spdlog::warn(
        "the Plugin API is served on {} WITHOUT AUTHENTICATION (--plugin-tcp-insecure): "
        "anyone who reaches it decides what this cell's containers may receive",
        wiretag::http::format_endpoint(*bound));

  // What each PDP_STATUS adds to the link's ONAP identity, state, health (healthy only once
  // this start's first resync is applied, so a rule deleted while the agent was down is gone
  // before the cell reports healthy) and policies: ONAP statistics and the datapath totals.
  auto status_extra = [&]() -> json {
    wiretag::agent::CellStats s = cell_state.stats();
    json extra{
        {"description", "wiretag-agent"},
        {"statistics",
         {{"pdpInstanceId", cell},
          {"timeStamp", now_ms()},
          {"pdpGroupName", group},
          {"pdpSubGroupName", link_options.pdp_type},
          {"policyDeployCount", s.applies},
          {"policyDeploySuccessCount", s.applies - s.apply_failures},
          {"policyDeployFailCount", s.apply_failures},
          {"policyExecutedCount", s.allowed + s.dropped + s.audited},
          {"policyExecutedSuccessCount", s.allowed + s.audited},
          {"policyExecutedFailCount", s.dropped}}},
        {"datapath",
         {{"endpoints", s.endpoints},
          {"allowed", s.allowed},
          {"dropped", s.dropped},
          {"audited", s.audited}}},
        {"hostedApps", cell_state.followed_apps()}};
    if (gate && !gate->own_vteps().empty()) extra["vtepAddresses"] = gate->own_vteps();
    return extra;
  };

  plugin_server.start();
  http_server.start();
  cell_requests.start();
  forwarder->start();
  if (auto r = event_hub.start(); !r)
    spdlog::error("events: {}: {} (GET /v1/events stays silent)", r.error().code,
                  r.error().message);
  link.start(status_extra);
  std::string server_names;
  for (const auto& url : *servers)
    server_names += (server_names.empty() ? "" : ",") + wiretag::agent::server_name(url);
  // systemd (Type=notify): ready once the first resync with a server is in force.
  wiretag::agent::ReadyNotice ready_notice(
      ioc, [&link] { return link.synced(); }, "waiting for the first resync with " + server_names,
      "first resync done; following " + server_names);
  ready_notice.start();
  wiretag::announce("plugin socket " + plugin_socket, {{"plugin_socket", plugin_socket}});
  const std::string where = wiretag::http::format_endpoint(*bound);
  wiretag::announce("listening on " + where, {{"listen", where}});
  spdlog::info(
      "wiretag-agent {}: Plugin API on {}{}, health on {} (server {}, pin dir {}, state dir {})",
      cell, plugin_socket, plugin_tcp ? " and TCP" : "", wiretag::http::format_endpoint(*bound),
      server_names, dp_options.pin_dir, state_dir);

  // Housekeeping: forget devices whose container is gone.
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool stopping = false;
  std::thread sweeper([&] {
    std::unique_lock lock(sweep_mu);
    while (!sweep_cv.wait_for(lock, std::chrono::milliseconds(sweep_ms), [&] { return stopping; })) {
      lock.unlock();
      cell_state.sweep_vanished();
      lock.lock();
    }
  });

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping; enforcement stays as it is", sig);
    (void)wiretag::sd_notify("STOPPING=1");
    ready_notice.cancel();
    plugin_server.shutdown();
    http_server.shutdown();
    ioc.stop();
  });
  std::thread worker([&] { ioc.run(); });
  ioc.run();
  worker.join();
  {
    std::lock_guard lock(sweep_mu);
    stopping = true;
  }
  sweep_cv.notify_all();
  sweeper.join();
  event_hub.stop();
  forwarder->stop();
  link.stop();
  cell_requests.stop();
  spdlog::info("stopped");
  return 0;
}
