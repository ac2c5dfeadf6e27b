// `wiretag token …`, and the CLI over https with --ca, against the real server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class TokenCli : public CliServerTest {
 protected:
  CliResult ok(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    auto r = cli(std::move(args), std::move(env));
    EXPECT_EQ(r.status, 0) << describe(r);
    return r;
  }
};

TEST_F(TokenCli, CreateListRevoke) {
  // Table mode: the listing, then the secret once, and a warning on stderr.
  auto r = ok({"token", "create", "--scope", "network.write", "--account", "team-x", "--account",
               "team-y", "--description", "ci pipeline", "--expires-in", "30d"});
  EXPECT_NE(r.out.find("\ntoken: "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("only time the token is shown"), std::string::npos) << r.err;
  std::string secret = r.out.substr(r.out.find("\ntoken: ") + 8);
  secret = secret.substr(0, secret.find('\n'));
  ASSERT_GE(secret.size(), 32u) << r.out;
  auto as_writer =
      cli({"app", "register", "w1", "--account", "team-y"}, {{"WIRETAG_TOKEN", secret}});
  EXPECT_EQ(as_writer.status, 0) << describe(as_writer) << "the printed secret works";

  r = ok({"token", "create", "--scope", "cell", "--cell", "cell1", "-o", "json"});
  json cell = r.json();
  EXPECT_EQ(cell["scopes"], json::array({"cell"}));
  EXPECT_EQ(cell["cell"], "cell1");
  EXPECT_TRUE(cell["token"].is_string());
  EXPECT_TRUE(cell["expires"].is_null());

  r = ok({"token", "list", "-o", "json"});
  json tokens = r.json()["tokens"];
  ASSERT_EQ(tokens.size(), 3u) << r.out;  // the admin token, then ours
  EXPECT_EQ(tokens[1]["accounts"], json::array({"team-x", "team-y"}));
  EXPECT_EQ(tokens[1]["description"], "ci pipeline");
  EXPECT_TRUE(tokens[1]["expires"].is_string());
  for (const json& t : tokens) EXPECT_FALSE(t.contains("token")) << "never the secret";
  r = ok({"token", "list"});
  EXPECT_NE(r.out.find("ci pipeline"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(cell["id"].get<std::string>()), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(cell["token"].get<std::string>()), std::string::npos);

  const std::string writer_id = tokens[1]["id"];
  r = ok({"token", "revoke", writer_id});
  EXPECT_NE(r.out.find("revoked token " + writer_id), std::string::npos);
  as_writer = cli({"app", "list"}, {{"WIRETAG_TOKEN", secret}});
  EXPECT_EQ(as_writer.status, 1);
  EXPECT_NE(as_writer.err.find("UNAUTHORIZED"), std::string::npos) << as_writer.err;
}

TEST_F(TokenCli, SecretFileAndRotateAdmin) {
  const auto path = (dir_.path() / "agent-token").string();
  auto r = ok({"token", "create", "--scope", "cell", "--cell", "c1", "--secret-file", path});
  EXPECT_EQ(r.out.find("token: "), std::string::npos) << "not printed: " << r.out;
  EXPECT_NE(r.out.find("written to " + path), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Never over an existing file (exit 1: the token was issued; the message says so).
  r = cli({"token", "create", "--scope", "cell", "--cell", "c2", "--secret-file", path});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("revoke it"), std::string::npos) << r.err;

  const std::string old_admin = s().admin_token();
  r = ok({"token", "rotate-admin", "-o", "json"});
  json rotated = r.json();
  EXPECT_TRUE(rotated["revoked"].is_string());
  EXPECT_EQ(rotated["scopes"], json::array({"network.admin"}));
  std::ifstream in(data_dir() / "admin-token");
  std::string written;
  std::getline(in, written);
  EXPECT_EQ(written, rotated["token"]);
  r = cli({"app", "list"}, {{"WIRETAG_TOKEN", old_admin}});
  EXPECT_EQ(r.status, 1) << "the old admin token is revoked";
  r = cli({"app", "list"}, {{"WIRETAG_TOKEN", ""}});
  EXPECT_EQ(r.status, 0) << describe(r) << "the data dir's admin-token is the new one";
}

TEST_F(TokenCli, BadInput) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"token", "create"}, 2, "--scope"},
           {{"token", "create", "--scope", "root"}, 2, "root"},
           {{"token", "create", "--scope", "network.write", "--expires-in", "soon"}, 2, "30d"},
           {{"token", "create", "--scope", "network.write", "--expires-in", "0"}, 2, "positive"},
           {{"token", "create", "--scope", "network.write", "--expires-in", "5x"}, 2, "s, m, h"},
           {{"token", "revoke"}, 2, "id"},
           {{"token", "create", "--scope", "cell"}, 1, "MISSING_FIELD"},
           {{"token", "create", "--scope", "network.write", "--cell", "c"},
            1,
            "INVALID_FIELD_COMBINATION"},
           {{"token", "create", "--scope", "network.write", "--expires-in", "20y"},
            1,
            "INVALID_EXPIRES_IN"},
           {{"token", "create", "--scope", "network.write", "--account", "bad/a"},
            1,
            "INVALID_ACCOUNT"},
           {{"token", "revoke", "0000000000000000"}, 1, "TOKEN_NOT_FOUND"}}) {
    auto r = cli(c.args);
    EXPECT_EQ(r.status, c.status) << describe(r);
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.says << "\n" << r.err;
  }
  // The last admin token cannot be revoked.
  auto list = cli({"token", "list", "-o", "json"}).json()["tokens"];
  auto r = cli({"token", "revoke", list[0]["id"].get<std::string>()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("LAST_ADMIN_TOKEN"), std::string::npos) << r.err;
  // A network.write token may not manage tokens.
  auto w = cli({"token", "create", "--scope", "network.write", "--account", "a", "-o", "json"});
  r = cli({"token", "list"}, {{"WIRETAG_TOKEN", w.json()["token"].get<std::string>()}});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("FORBIDDEN"), std::string::npos) << r.err;
}

// https with --ca: certificates from scripts/make-certs.sh, as tests/server/tls_test.cc.
class TlsCli : public CliServerTest {
 protected:
  void SetUp() override {
    certs_ = (dir_.path() / "certs").string();
    ASSERT_EQ(make_certs(certs_ + " ca"), 0);
    ASSERT_EQ(make_certs(certs_ + " server localhost 127.0.0.1"), 0);
    other_ = (dir_.path() / "other").string();
    ASSERT_EQ(make_certs(other_ + " ca"), 0);
    scheme_ = "https";
    start({"--tls-cert", certs_ + "/localhost.pem", "--tls-key", certs_ + "/localhost.key"});
  }
  static int make_certs(const std::string& args) {
    return std::system(
        (std::string(WIRETAG_SCRIPTS_DIR) + "/make-certs.sh " + args + " >/dev/null").c_str());
  }
  std::string certs_, other_;
};

TEST_F(TlsCli, HttpsWithCa) {
  auto r = cli({"--ca", certs_ + "/ca.pem", "app", "register", "web", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["wire_bytes"], "0001");
  r = cli({"edge", "list", "-o", "json"}, {{"WIRETAG_CA", certs_ + "/ca.pem"}});
  EXPECT_EQ(r.status, 0) << describe(r) << "--ca from WIRETAG_CA";
  // Another CA, or none (the system's), does not trust the server: exit 1, no answer.
  r = cli({"--ca", other_ + "/ca.pem", "app", "list"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("https://127.0.0.1:"), std::string::npos) << r.err;
  r = cli({"app", "list"});
  EXPECT_EQ(r.status, 1) << describe(r);
  // A CA file that is not there is a usage error.
  r = cli({"--ca", certs_ + "/missing.pem", "app", "list"});
  EXPECT_EQ(r.status, 2) << describe(r);
}

}  // namespace
}  // namespace wiretag::test
