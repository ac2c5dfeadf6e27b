// `wiretag token create|list|revoke|rotate-admin`: bearer tokens (admin only; SPEC §4 Auth,
// /v1/tokens). A token's secret is shown once, when it is issued; the server keeps its hash.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

// "3600", "90s", "30m", "12h", "30d", "2w", "1y" → seconds.
int64_t parse_duration(const std::string& text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string unit(end, text.data() + text.size());
  const int64_t scale = unit.empty() || unit == "s" ? 1
                        : unit == "m"               ? 60
                        : unit == "h"               ? 3600
                        : unit == "d"               ? 86400
                        : unit == "w"               ? 7 * 86400
                        : unit == "y"               ? 365 * 86400
                                                    : 0;
  if (ec != std::errc() || end == text.data() || n < 1 || scale == 0 || n > INT64_MAX / scale)
    usage_error("--expires-in '" + text +
                "': expected a positive number of seconds, or N with s, m, h, d, w or y "
                "(e.g. 30d)");
  return n * scale;
}

Table tokens_table(const json& tokens) {
  Table t{{"id", "scopes", "accounts", "cell", "description", "created", "expires", "last_used"},
          {}};
  for (const json& k : tokens)
    t.add({cell(k, "id"), cell(k, "scopes"), cell(k, "accounts"), cell(k, "cell"),
           k.value("description", std::string()).empty() ? "-" : cell(k, "description"),
           cell(k, "created"), cell(k, "expires"), cell(k, "last_used")});
  return t;
}

// Writes the secret to a new file of mode 0600 (never over an existing file).
void write_secret(const std::string& path, const std::string& secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw CommandError(kExitApiError, "the token was issued but " + path +
                                          " could not be created (" + std::strerror(errno) +
                                          "); revoke it and retry");
  const std::string line = secret + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    throw CommandError(kExitApiError,
                       "the token was issued but writing " + path + " failed; revoke it and retry");
}

// An issued token: its listing, then its secret, said to be shown only now. With a secret
// file, the secret goes there instead of stdout.
void show_issued(const json& issued, const std::string& secret_file) {
  const std::string secret = issued.value("token", std::string());
  if (!secret_file.empty()) write_secret(secret_file, secret);
  json shown = issued;
  if (!secret_file.empty()) {
    shown.erase("token");
    shown["token_file"] = secret_file;
  }
  if (globals().output != OutputFormat::Table) {
    show(shown, nullptr);
  } else {
    print_table(tokens_table(json::array({issued})));
    if (issued.contains("revoked")) std::cout << "revoked: " << cell(issued, "revoked") << '\n';
    if (secret_file.empty())
      std::cout << "\ntoken: " << secret << '\n';
    else
      std::cout << "\ntoken written to " << secret_file << " (mode 0600)\n";
  }
  std::cout.flush();
  if (secret_file.empty())
    std::fprintf(stderr,
                 "wiretag: this is the only time the token is shown; store it now (the server "
                 "keeps only its hash)\n");
}

}  // namespace

void add_token_commands(CLI::App& app) {
  auto* group = app.add_subcommand("token", "issue, list and revoke bearer tokens (admin)");
  group->require_subcommand(1);
  {
    static std::vector<std::string> scopes, accounts;
    static std::string cell_name, expires_in, description, secret_file;
    auto* c = group->add_subcommand("create",
                                    "issue a token; its secret is shown this once "
                                    "(or written to --secret-file)");
    c->add_option("--scope", scopes, "network.admin | network.write | cell (repeat for several)")
        ->required()
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(CLI::IsMember({"network.admin", "network.write", "cell"}));
    c->add_option("--account", accounts,
                  "an account a network.write token acts on (repeat for several)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    c->add_option("--cell", cell_name, "the cell a cell token acts as");
    c->add_option("--expires-in", expires_in,
                  "lifetime: seconds, or N with s, m, h, d, w, y (default: never expires)");
    c->add_option("--description", description, "what the token is for");
    c->add_option("--secret-file", secret_file,
                  "write the secret to this new file (mode 0600) instead of printing it");
    c->callback([] {
      json body = {{"scopes", scopes}};
      if (!accounts.empty()) body["accounts"] = accounts;
      if (!cell_name.empty()) body["cell"] = cell_name;
      if (!expires_in.empty()) body["expires_in"] = parse_duration(expires_in);
      if (!description.empty()) body["description"] = description;
      show_issued(server_call(Auth::Bearer, "POST", "/v1/tokens", body), secret_file);
    });
  }
  {
    auto* c = group->add_subcommand("list", "list tokens (never their secrets), oldest first");
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET", "/v1/tokens");
      show(out, [](const json& o) { return tokens_table(o.value("tokens", json::array())); });
    });
  }
  {
    static std::string id;
    auto* c = group->add_subcommand("revoke", "revoke a token: it stops working at once");
    c->add_option("id", id, "the token's id (token list)")->required();
    c->callback([] {
      server_call(Auth::Bearer, "DELETE", "/v1/tokens/" + segment(id));
      std::printf("revoked token %s\n", id.c_str());
    });
  }
  {
    static std::string secret_file;
    auto* c = group->add_subcommand("rotate-admin",
                                    "issue a new admin token into the server's "
                                    "<data-dir>/admin-token and revoke the one it held");
    c->add_option("--secret-file", secret_file,
                  "also write the new secret to this new file (mode 0600) instead of printing");
    c->callback([] {
      show_issued(server_call(Auth::Bearer, "POST", "/v1/tokens/rotate-admin"), secret_file);
    });
  }
}

}  // namespace wiretag::cli
