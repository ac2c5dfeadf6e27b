#include "common/daemon_env.h"

#include <cstdlib>

namespace wiretag {

namespace {

constexpr LegacyEnv kServer[] = {
    {"WIRETAG_LISTEN", "WIRETAG_SERVER_LISTEN", false},
    {"WIRETAG_DATA_DIR", "WIRETAG_SERVER_DATA_DIR"},
    {"WIRETAG_TAG_LENGTH", "WIRETAG_SERVER_TAG_LENGTH"},
    {"WIRETAG_TAG_QUARANTINE", "WIRETAG_SERVER_TAG_QUARANTINE"},
    {"WIRETAG_INSECURE_NO_AUTH", "WIRETAG_SERVER_INSECURE_NO_AUTH"},
    {"WIRETAG_LOG_LEVEL", "WIRETAG_SERVER_LOG_LEVEL"},
    {"WIRETAG_LOG_FORMAT", "WIRETAG_SERVER_LOG_FORMAT"},
    {"WIRETAG_ACCESS_LOG", "WIRETAG_SERVER_ACCESS_LOG"},
    {"WIRETAG_THREADS", "WIRETAG_SERVER_THREADS"},
    {"WIRETAG_READ_TIMEOUT", "WIRETAG_SERVER_READ_TIMEOUT"},
    {"WIRETAG_PAP_CREDENTIALS_FILE", "WIRETAG_SERVER_PAP_CREDENTIALS_FILE"},
    {"WIRETAG_POLICY_KEY_FILE", "WIRETAG_SERVER_POLICY_KEY_FILE"},
    {"WIRETAG_CHANGELOG_RETENTION_REVISIONS", "WIRETAG_SERVER_CHANGELOG_RETENTION_REVISIONS"},
    {"WIRETAG_CHANGELOG_RETENTION_SECONDS", "WIRETAG_SERVER_CHANGELOG_RETENTION_SECONDS"},
    {"WIRETAG_AUDIT_RETENTION_RECORDS", "WIRETAG_SERVER_AUDIT_RETENTION_RECORDS"},
    {"WIRETAG_AUDIT_RETENTION_SECONDS", "WIRETAG_SERVER_AUDIT_RETENTION_SECONDS"},
    {"WIRETAG_RETENTION_INTERVAL", "WIRETAG_SERVER_RETENTION_INTERVAL"},
    {"WIRETAG_CELL_RETENTION", "WIRETAG_SERVER_CELL_RETENTION"},
    {"WIRETAG_MAX_CONNECTIONS", "WIRETAG_SERVER_MAX_CONNECTIONS"},
    {"WIRETAG_MAX_BUFFERED_BODY_BYTES", "WIRETAG_SERVER_MAX_BUFFERED_BODY_BYTES"},
    {"WIRETAG_TLS_CERT", "WIRETAG_SERVER_TLS_CERT"},
    {"WIRETAG_TLS_KEY", "WIRETAG_SERVER_TLS_KEY"},
    {"WIRETAG_TLS_CLIENT_CA", "WIRETAG_SERVER_TLS_CLIENT_CA"},
    {"WIRETAG_UI_DIR", "WIRETAG_SERVER_UI_DIR"},
    {"WIRETAG_CELL_REQUEST_TIMEOUT", "WIRETAG_SERVER_CELL_REQUEST_TIMEOUT"},
    {"WIRETAG_CELL_REQUEST_MAX_PENDING", "WIRETAG_SERVER_CELL_REQUEST_MAX_PENDING"},
    {"WIRETAG_CELL_REQUEST_MAX_PENDING_PER_CELL",
     "WIRETAG_SERVER_CELL_REQUEST_MAX_PENDING_PER_CELL"},
};

// The agent's names that already carried WIRETAG_AGENT_ (the Plugin API's, TLS, the log
// format, the access log, the connection caps) are unchanged. --token-file (the cell's token
// for the server) is WIRETAG_AGENT_SERVER_TOKEN_FILE: the CLI's WIRETAG_AGENT_TOKEN_FILE
// already names the token of an agent's TCP Plugin API.
constexpr LegacyEnv kAgent[] = {
    {"WIRETAG_LISTEN", "WIRETAG_AGENT_LISTEN", false},
    {"WIRETAG_SERVER", "WIRETAG_AGENT_SERVER"},
    {"WIRETAG_CELL", "WIRETAG_AGENT_CELL"},
    {"WIRETAG_PIN_DIR", "WIRETAG_AGENT_PIN_DIR"},
    {"WIRETAG_STATE_DIR", "WIRETAG_AGENT_STATE_DIR"},
    {"WIRETAG_TOKEN_FILE", "WIRETAG_AGENT_SERVER_TOKEN_FILE"},
    {"WIRETAG_TAG_LENGTH", "WIRETAG_AGENT_TAG_LENGTH"},
    {"WIRETAG_GROUP", "WIRETAG_AGENT_GROUP"},
    {"WIRETAG_HEARTBEAT_INTERVAL", "WIRETAG_AGENT_HEARTBEAT_INTERVAL"},
    {"WIRETAG_RESYNC_INTERVAL", "WIRETAG_AGENT_RESYNC_INTERVAL"},
    {"WIRETAG_WATCH", "WIRETAG_AGENT_WATCH"},
    {"WIRETAG_WATCH_TIMEOUT", "WIRETAG_AGENT_WATCH_TIMEOUT"},
    {"WIRETAG_SWEEP_INTERVAL", "WIRETAG_AGENT_SWEEP_INTERVAL"},
    {"WIRETAG_MAX_ENDPOINTS", "WIRETAG_AGENT_MAX_ENDPOINTS"},
    {"WIRETAG_MAX_POLICY_ENTRIES", "WIRETAG_AGENT_MAX_POLICY_ENTRIES"},
    {"WIRETAG_EVENTS_PER_SEC", "WIRETAG_AGENT_EVENTS_PER_SEC"},
    {"WIRETAG_LOG_LEVEL", "WIRETAG_AGENT_LOG_LEVEL"},
};

}  // namespace

std::span<const LegacyEnv> server_legacy_env() { return kServer; }
std::span<const LegacyEnv> agent_legacy_env() { return kAgent; }

LegacyEnvOutcome adopt_legacy_env(std::span<const LegacyEnv> renames,
                                  const std::function<const char*(const char*)>& get_env,
                                  const std::function<void(const char*, const char*)>& set_env) {
  auto get = [&](const char* name) -> const char* {
    return get_env ? get_env(name) : std::getenv(name);
  };
  auto set = [&](const char* name, const char* value) {
    if (set_env)
      set_env(name, value);
    else
      ::setenv(name, value, 1);
  };
  LegacyEnvOutcome out;
  for (const LegacyEnv& r : renames) {
    const char* old_value = get(r.old_name);
    if (old_value == nullptr) continue;
    const std::string old_name = r.old_name, new_name = r.new_name;
    if (get(r.new_name) != nullptr) {
      out.warnings.push_back(old_name + " is ignored: " + new_name + " is set");
    } else if (!r.still_read) {
      out.error = old_name + " is no longer read (the server and the agent both took it); set " +
                  new_name + " instead";
      return out;
    } else {
      set(r.new_name, old_value);
      out.warnings.push_back(old_name +
                             " is deprecated and will not be read after this release; "
                             "rename it " +
                             new_name);
    }
  }
  return out;
}

}  // namespace wiretag
