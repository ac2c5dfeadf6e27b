// wiretag-server: the policy server (SPEC §1): stores the policy graph in --data-dir and
// serves its HTTP APIs on --listen.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include "common/command_line.h"
#include "common/daemon_env.h"
#include "common/dir_lock.h"
#include "common/log.h"
#include "common/open_files_limit.h"
#include "common/sd_notify.h"
#include "core/cell_registry.h"
#include "core/change_notifier.h"
#include "core/log_retention.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "http/access_log.h"
#include "http/listen_address.h"
#include "http/server.h"
#include "http/tls.h"
#include "server/accounts_api.h"
#include "server/auth.h"
#include "server/decision_api.h"
#include "server/edges_api.h"
#include "server/events_api.h"
#include "server/internal_api.h"
#include "server/lifecycle_api.h"
#include "server/pap_api.h"
#include "server/pap_auth.h"
#include "server/pdp_status_input.h"
#include "server/policy_api.h"
#include "server/server_metrics.h"
#include "server/services_api.h"
#include "server/system_api.h"
#include "server/token_api.h"
#include "server/trace_api.h"
#include "server/ui_files.h"
#include "store/open_store.h"
#include "wiretag/error_kind.h"
#include "wiretag/version.h"

namespace asio = boost::asio;

int main(int argc, char** argv) {
  CLI::App cli{
      "wiretag-server: the wiretag policy server. Stores apps, their wire tags and the policy "
      "graph in an embedded SQLite database under --data-dir and serves the Policy Server API "
      "(POST /app, POST /whitelist, GET /app/:guid/whitelist, ...). Requests need a bearer "
      "token: on first start an admin token is written to <data-dir>/admin-token (mode 0600)."};
  // A flag given twice takes its last value (wrappers and tests append overrides).
  cli.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string listen = "127.0.0.1:4002";
  std::string data_dir = "./wiretag-data";
  int tag_length = 2;
  int64_t quarantine = 24 * 3600;
  bool insecure = false;
  std::string log_level = "info";
  unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  int read_timeout = 30;
  std::string pap_credentials_file;
  wiretag::http::ServerOptions http_options;
  cli.add_option("--listen", listen, "HOST:PORT to serve on; port 0 lets the OS choose")
      ->envname("WIRETAG_SERVER_LISTEN")
      ->capture_default_str();
  cli.add_option("--data-dir", data_dir, "directory of the database and the admin token")
      ->envname("WIRETAG_SERVER_DATA_DIR")
      ->capture_default_str();
  std::string db_url = "sqlite";
  cli.add_option("--db", db_url,
                 "the store: sqlite (<data-dir>/wiretag.db) or a PostgreSQL URL "
                 "(postgresql://USER:PASSWORD@HOST:PORT/DB), which several servers may share")
      ->envname("WIRETAG_SERVER_DB")
      ->capture_default_str();
  cli.add_option("--tag-length", tag_length,
                 "bytes per wire tag, 1-4 (2 fits VXLAN-GBP); fixed when the data dir is created")
      ->envname("WIRETAG_SERVER_TAG_LENGTH")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  cli.add_option("--tag-quarantine", quarantine,
                 "seconds before a deleted app's tag may be given to another app")
      ->envname("WIRETAG_SERVER_TAG_QUARANTINE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_flag("--insecure-no-auth", insecure,
               "accept every request without a token, as admin: local experiments only")
      ->envname("WIRETAG_SERVER_INSECURE_NO_AUTH");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("WIRETAG_SERVER_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  std::string log_format = "text";
  cli.add_option("--log-format", log_format,
                 "text, or json: one JSON object per line (time, level, program, logger, "
                 "message and the record's fields)")
      ->envname("WIRETAG_SERVER_LOG_FORMAT")
      ->capture_default_str();
  bool access_log = true;
  cli.add_option("--access-log", access_log,
                 "one info line per HTTP request: method, route, path, status, duration, "
                 "principal, request id; false turns it off")
      ->envname("WIRETAG_SERVER_ACCESS_LOG")
      ->capture_default_str();
  cli.add_option("--threads", threads, "HTTP worker threads")
      ->envname("WIRETAG_SERVER_THREADS")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  cli.add_option("--read-timeout", read_timeout,
                 "seconds a connection may take to send a request (and idle between requests)")
      ->envname("WIRETAG_SERVER_READ_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cli.add_option("--pap-credentials-file", pap_credentials_file,
                 "user:password lines for the PAP API's basic auth (plain, $pbkdf2-sha256$... or "
                 "$sha256$...); default <data-dir>/pap-credentials, generated on first start")
      ->envname("WIRETAG_SERVER_PAP_CREDENTIALS_FILE");
  wiretag::RetentionPolicy retention_policy;
  int64_t cell_retention = wiretag::CellRegistry::kDefaultRetentionMs / 1000;
  int64_t pdp_heartbeat_interval = wiretag::kDefaultPdpHeartbeatIntervalMs;
  int retention_interval = 60;
  cli.add_option("--changelog-retention-revisions", retention_policy.changelog_revisions,
                 "the change log keeps at most this many newest revisions (0: no "
                 "count bound); a watch from before what is kept is told to resync")
      ->envname("WIRETAG_SERVER_CHANGELOG_RETENTION_REVISIONS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--changelog-retention-seconds", retention_policy.changelog_seconds,
                 "changes older than this are compacted away (0: no age bound)")
      ->envname("WIRETAG_SERVER_CHANGELOG_RETENTION_SECONDS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--audit-retention-records", retention_policy.audit_records,
                 "the PAP audit keeps at most this many newest records (0: no count bound)")
      ->envname("WIRETAG_SERVER_AUDIT_RETENTION_RECORDS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--audit-retention-seconds", retention_policy.audit_seconds,
                 "PAP audit records older than this are removed (0: no age bound)")
      ->envname("WIRETAG_SERVER_AUDIT_RETENTION_SECONDS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--retention-interval", retention_interval,
                 "seconds between runs of the change-log, audit and cell retention")
      ->envname("WIRETAG_SERVER_RETENTION_INTERVAL")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cli.add_option("--cell-retention", cell_retention,
                 "seconds an expired cell (no heartbeat for 3 intervals) is still listed before "
                 "it is forgotten")
      ->envname("WIRETAG_SERVER_CELL_RETENTION")
      ->check(CLI::Range(int64_t{0}, int64_t{365} * 86400))
      ->capture_default_str();
  cli.add_option("--pdp-heartbeat-interval", pdp_heartbeat_interval,
                 "milliseconds between the PDP_STATUS heartbeats of a cell that does not say its "
                 "own interval (ONAP's PDPs; the PDP_UPDATE answer's pdpHeartbeatIntervalMs): "
                 "it expires after 3 missed")
      ->envname("WIRETAG_SERVER_PDP_HEARTBEAT_INTERVAL")
      ->check(CLI::Range(wiretag::kMinHeartbeatIntervalMs, wiretag::kMaxHeartbeatIntervalMs))
      ->capture_default_str();
  cli.add_option("--max-connections", http_options.max_connections,
                 "open connections at once; one more is answered 503 SERVER_BUSY and closed")
      ->envname("WIRETAG_SERVER_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cli.add_option("--max-buffered-body-bytes", http_options.max_buffered_body_bytes,
                 "request body bytes held at once (bodies are read after authentication); a "
                 "request past it is answered 503 SERVER_BUSY")
      ->envname("WIRETAG_SERVER_MAX_BUFFERED_BODY_BYTES")
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40))
      ->capture_default_str();
  wiretag::http::TlsServerFiles tls_files;
  cli.add_option("--tls-cert", tls_files.cert_file,
                 "PEM certificate chain: serve HTTPS (every API) instead of plain HTTP")
      ->envname("WIRETAG_SERVER_TLS_CERT")
      ->check(CLI::ExistingFile);
  cli.add_option("--tls-key", tls_files.key_file, "PEM private key of --tls-cert")
      ->envname("WIRETAG_SERVER_TLS_KEY")
      ->check(CLI::ExistingFile);
  cli.add_option("--tls-client-ca", tls_files.client_ca_file,
                 "PEM CA whose client certificates authenticate agents (mutual TLS): a "
                 "certificate's SAN URI wiretag:cell:NAME (else its CN) names the one cell it "
                 "may act as on /internal/v1; agents may still use cell tokens")
      ->envname("WIRETAG_SERVER_TLS_CLIENT_CA")
      ->check(CLI::ExistingFile);
  std::string policy_key_file;
  cli.add_option("--policy-key-file", policy_key_file,
                 "the policy-key secret (64 hex digits) instead of <data-dir>/policy-key-secret: "
                 "servers sharing one database are given the same file")
      ->envname("WIRETAG_SERVER_POLICY_KEY_FILE")
      ->check(CLI::ExistingFile);
  std::string ui_dir = WIRETAG_UI_DIR;
  cli.add_option("--ui-dir", ui_dir,
                 "directory of the web view's static files, served at /ui (docs/ui.md)")
      ->envname("WIRETAG_SERVER_UI_DIR")
      ->capture_default_str();
  cli.set_version_flag("--version", wiretag::version_line("wiretag-server"));
  wiretag::CellRequestLimits cell_requests_limits;
  int64_t cell_request_timeout_ms = cell_requests_limits.deadline.count();
  cli.add_option("--cell-request-timeout", cell_request_timeout_ms,
                 "milliseconds a request to a cell (trace, ops) waits for the cell's answer "
                 "before it is answered 503 CELL_UNREACHABLE")
      ->envname("WIRETAG_SERVER_CELL_REQUEST_TIMEOUT")
      ->check(CLI::Range(int64_t{1}, int64_t{600000}))
      ->capture_default_str();
  cli.add_option("--cell-request-max-pending", cell_requests_limits.max_pending,
                 "requests to cells waiting for an answer at once; one more is 503 SERVER_BUSY")
      ->envname("WIRETAG_SERVER_CELL_REQUEST_MAX_PENDING")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cli.add_option("--cell-request-max-pending-per-cell", cell_requests_limits.max_pending_per_cell,
                 "the same, for one cell")
      ->envname("WIRETAG_SERVER_CELL_REQUEST_MAX_PENDING_PER_CELL")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  // Settings under their names before WIRETAG_SERVER_* (common/daemon_env.h).
  auto legacy_env = wiretag::adopt_legacy_env(wiretag::server_legacy_env());
  if (!legacy_env.error.empty()) {
    std::fprintf(stderr, "wiretag-server: %s\n", legacy_env.error.c_str());
    return 2;
  }
  if (auto exit_status = wiretag::parse_command_line(cli, argc, argv)) return *exit_status;
  cell_requests_limits.deadline = std::chrono::milliseconds(cell_request_timeout_ms);

  auto format = wiretag::parse_log_format(log_format);
  if (!format) {
    std::fprintf(stderr, "--log-format: %s\n", format.error().message.c_str());
    return 2;
  }
  wiretag::init_logging(log_level, *format, "wiretag-server");
  // Every agent's watch is a connection: the soft limit of 1024 would refuse them long before
  // --max-connections does.
  if (auto fds = wiretag::raise_open_files_limit(); !fds) {
    spdlog::warn("open files limit: {}", fds.error().message);
  } else {
    if (fds->now != fds->before)
      spdlog::info("open files limit raised from {} to {}", fds->before, fds->now);
    if (fds->now < http_options.max_connections + 64)
      spdlog::warn(
          "open files limit {} is below --max-connections {} (+64 for the rest): "
          "connections past it wait in the listen queue (raise LimitNOFILE)",
          fds->now, http_options.max_connections);
  }
  for (const std::string& warning : legacy_env.warnings) spdlog::warn("{}", warning);
  auto endpoint = wiretag::http::parse_listen_address(listen);
  if (!endpoint) {
    spdlog::error("--listen {}: {}", listen, endpoint.error().message);
    return 2;
  }
  // One server per SQLite data dir: a second would answer from its own in-memory index and
  // caches, miss the first one's writes and never wake its watches (docs/server.md "Storage";
  // several servers share PostgreSQL instead).
  std::optional<wiretag::DirLock> data_dir_lock;
  if (db_url == "sqlite") {
    auto lock = wiretag::DirLock::acquire(data_dir, "server.lock");
    if (!lock) {
      spdlog::error(
          "--data-dir {}: {}; one server per SQLite data dir (several servers share "
          "one PostgreSQL database: --db)",
          data_dir, lock.error().message);
      return 2;
    }
    data_dir_lock.emplace(std::move(*lock));
  }
  auto store = wiretag::open_store(db_url, data_dir);
  if (!store) {
    spdlog::error("store: {}", store.error().message);
    return is(store.error(), wiretag::ErrorKind::Configuration) ? 2 : 1;
  }
  // The cells port (core/ports/cells.h) on the same database: every server on it knows them all.
  auto cells_store = wiretag::open_cells_store(db_url, data_dir);
  if (!cells_store) {
    spdlog::error("store: cells: {}", cells_store.error().message);
    return is(cells_store.error(), wiretag::ErrorKind::Configuration) ? 2 : 1;
  }
  wiretag::PolicyGraphOptions options;
  options.tag_length = tag_length;
  options.tag_quarantine_seconds = quarantine;
  options.new_id = wiretag::random_uuid;
  // Apps and whitelists are answered from memory, kept current by the change log.
  options.in_memory_index = true;
  const auto loading = std::chrono::steady_clock::now();
  auto graph = wiretag::PolicyGraph::open(**store, options);
  if (!graph) {
    spdlog::error("{}: {}", graph.error().code, graph.error().message);
    return 1;
  }
  spdlog::info("policy graph loaded into memory in {} ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - loading)
                   .count());
  wiretag::Authenticator auth(**store, insecure);
  if (insecure) {
    spdlog::warn(
        "!!! --insecure-no-auth: EVERY REQUEST IS ADMIN, NO TOKEN CHECKED. "
        "Local experiments only; never expose this server. !!!");
  } else {
    auto path = auth.bootstrap_admin(data_dir);
    if (!path) {
      spdlog::error("admin token: {}", path.error().message);
      return 1;
    }
    if (!path->empty()) spdlog::info("first start: admin token written to {}", path->string());
  }

  // Each API names its routes for the HTTP metrics (the `api` label, docs/metrics.md).
  wiretag::http::Router router;
  router.api("policy");
  wiretag::add_policy_server_routes(router, *graph, auth);
  wiretag::AccountPolicies policies(**store, wiretag::random_uuid);
  auto keys = policy_key_file.empty() ? wiretag::PolicyKeySealer::open(data_dir)
                                      : wiretag::PolicyKeySealer::open_file(policy_key_file);
  if (!keys) {
    spdlog::error("policy key secret: {}", keys.error().message);
    return 1;
  }
  router.api("accounts");
  wiretag::add_account_routes(router, policies, *graph, auth, *keys);
  router.api("tokens");
  wiretag::add_token_routes(router, auth);
  router.api("policy");
  wiretag::add_edge_routes(router, **store, *graph, auth);

  // Watches wake on every committed change, whichever API wrote it.
  auto revision = graph->revision();
  if (!revision) {
    spdlog::error("store: {}", revision.error().message);
    return 1;
  }
  wiretag::ChangeNotifier notifier(*revision);
  (*store)->add_commit_observer([&notifier](int64_t rev) { notifier.publish(rev); });
  wiretag::follow_other_servers(**store);  // several servers on one PostgreSQL database
  // In the database (core/cell_registry.h): on PostgreSQL other servers' heartbeats are read
  // back every kDefaultRefreshMs; SQLite has no other server, its cells are read once.
  wiretag::CellRegistry cells(
      {}, cell_retention * 1000, **cells_store,
      wiretag::is_postgresql_url(db_url) ? wiretag::CellRegistry::kDefaultRefreshMs : -1);
  asio::io_context ioc(static_cast<int>(threads));
  wiretag::Pap pap(**store, cells);
  router.api("internal");
  // Requests to cells ride their streamed watches (server/cell_requests.h).
  auto cell_requests = std::make_shared<wiretag::CellRequests>(ioc, cells, cell_requests_limits);
  wiretag::add_internal_routes(router, *graph, pap, notifier, cells, *cell_requests, auth, ioc,
                               pdp_heartbeat_interval);
  wiretag::add_cell_reply_route(router, cell_requests, auth);
  // Every cell's drop and audit events, pushed by the agents, to GET /v1/events readers.
  wiretag::ServerEvents events;
  wiretag::add_event_internal_routes(router, events, **store, *graph, auth);
  router.api("events");
  wiretag::add_event_routes(router, events, auth);
  router.api("cells");
  wiretag::add_cell_request_routes(router, *graph, **store, pap, cells, cell_requests, auth);
  router.api("services");
  wiretag::add_services_routes(router, *graph, **store, pap, cells, cell_requests, auth);
  wiretag::DecisionPoint decisions(**store, cells);
  router.api("decision");
  wiretag::add_decision_routes(router, decisions, *graph, auth);
  // PAP basic auth: from the given file, or <data-dir>/pap-credentials made on first start.
  wiretag::Result<wiretag::PapCredentials> pap_users = wiretag::PapCredentials::insecure();
  if (!insecure) {
    bool created = false;
    pap_users = pap_credentials_file.empty()
                    ? wiretag::PapCredentials::load_or_bootstrap(data_dir, created)
                    : wiretag::PapCredentials::load(pap_credentials_file);
    if (!pap_users) {
      spdlog::error("PAP credentials: {}", pap_users.error().message);
      return 1;
    }
    if (created)
      spdlog::info("first start: PAP admin credential (user:password) written to {}",
                   (std::filesystem::path(data_dir) / "pap-credentials").string());
  }
  router.api("pap");
  wiretag::add_pap_routes(router, pap, *pap_users);
  router.api("ui");
  if (!std::filesystem::is_regular_file(std::filesystem::path(ui_dir) / "index.html"))
    spdlog::warn("--ui-dir {}: no index.html there; /ui answers 404", ui_dir);
  wiretag::add_ui_routes(router, ui_dir);
  router.api("lifecycle");
  wiretag::add_lifecycle_routes(router, **store, auth, *pap_users);
  wiretag::http::Metrics metrics;
  wiretag::add_server_metrics(metrics, **store, *graph, cells, pap);
  wiretag::add_server_metrics_route(router, metrics, auth);
  metrics.observe(router);
  router.api("system");
  wiretag::add_system_routes(router, auth);
  if (access_log) wiretag::http::log_access(router);
  http_options.read_timeout = std::chrono::seconds(read_timeout);
  if (!tls_files.cert_file.empty() || !tls_files.key_file.empty() ||
      !tls_files.client_ca_file.empty()) {
    auto tls = wiretag::http::make_server_tls_context(tls_files);
    if (!tls) {
      spdlog::error("TLS: {}", tls.error().message);
      return 2;
    }
    http_options.tls = *tls;
  } else if (!endpoint->address().is_loopback()) {
    spdlog::warn(
        "serving plain HTTP on {}: bearer tokens cross the network in clear; give "
        "--tls-cert and --tls-key",
        listen);
  }
  wiretag::http::Server server(ioc, router, http_options);
  auto bound = server.listen(*endpoint);
  if (!bound) {
    spdlog::error("{}", bound.error().message);
    return 1;
  }
  server.start();
  const std::string where = wiretag::http::format_endpoint(*bound);
  wiretag::announce("listening on " + where, {{"listen", where}});
  spdlog::info("wiretag-server listening on {} ({}, data dir {}, tag length {})", where,
               http_options.tls ? "https" : "http", data_dir, tag_length);
  // systemd (Type=notify): ready once connections are accepted.
  if (auto ready = wiretag::sd_notify("READY=1\nSTATUS=listening on " + where); !ready)
    spdlog::warn("systemd notification: {}", ready.error().message);

  // Retention: the change log behind its horizon, old PAP audit, long-expired cells.
  wiretag::LogRetention retention(**store, retention_policy,
                                  [&graph] { return graph->compaction_floor(); });
  asio::steady_timer housekeeping(ioc);
  std::function<void()> keep_house = [&] {
    housekeeping.expires_after(std::chrono::seconds(retention_interval));
    housekeeping.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (auto run = retention.run(); !run)
        spdlog::warn("retention: {}: {}", run.error().code, run.error().message);
      else if (run->changes_removed > 0 || run->audit_removed > 0)
        spdlog::info("retention: {} change(s) compacted (horizon {}), {} audit record(s) removed",
                     run->changes_removed, run->horizon, run->audit_removed);
      if (size_t n = cells.evict_expired(); n > 0)
        spdlog::info("retention: {} expired cell(s) forgotten", n);
      keep_house();
    });
  };
  keep_house();

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  asio::steady_timer deadline(ioc);
  std::function<void()> poll;
  std::chrono::steady_clock::time_point stop_started;
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: finishing in-flight requests and stopping", sig);
    (void)wiretag::sd_notify("STOPPING=1");
    housekeeping.cancel();
    notifier.close();  // waiting watches answer now (no events) instead of at their timeout
    cell_requests->close();
    server.shutdown();
    // Stop once every connection is closed; a client that holds a request half-sent gets 5 s.
    stop_started = std::chrono::steady_clock::now();
    poll = [&] {
      if (server.idle() ||
          std::chrono::steady_clock::now() - stop_started > std::chrono::seconds(5))
        return ioc.stop();
      deadline.expires_after(std::chrono::milliseconds(20));
      deadline.async_wait([&](boost::system::error_code e) {
        if (!e) poll();
      });
    };
    poll();
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  // run() returns in the main thread once sessions are gone but the deadline timer remains.
  for (auto& t : pool) t.join();
  events.stop();
  spdlog::info("stopped");
  return 0;
}
