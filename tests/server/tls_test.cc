// TLS on the server's listener with real handshakes (issue 14 item 13): certificates made by
// scripts/make-certs.sh, the server binary with --tls-cert/--tls-key/--tls-client-ca, and
// http::Client over https — the right CA, a wrong CA, an expired server certificate, plain
// HTTP to the TLS port, and cells authenticated by client certificate (mutual TLS).
#include "http/tls.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "http/client.h"
#include "server_process.h"
#include "temp_dir.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

int make_certs(const std::string& env, const std::string& args) {
  const std::string cmd =
      env + " " + std::string(WIRETAG_SCRIPTS_DIR) + "/make-certs.sh " + args + " >/dev/null";
  return std::system(cmd.c_str());
}

json pdp_status(const std::string& name) {
  return {{"messageName", "PDP_STATUS"},
          {"requestId", "r-1"},
          {"timestampMs", 1700000000000},
          {"name", name},
          {"pdpType", "tc"},
          {"pdpGroup", "defaultGroup"},
          {"pdpSubgroup", "tc"},
          {"state", "ACTIVE"},
          {"healthy", "HEALTHY"},
          {"heartbeatIntervalMs", 1000}};
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string good = (dir_->path() / "good").string();
    const std::string other = (dir_->path() / "other").string();
    const std::string old = (dir_->path() / "old").string();
    ASSERT_EQ(make_certs("", good + " ca"), 0);
    ASSERT_EQ(make_certs("", good + " server localhost 127.0.0.1"), 0);
    ASSERT_EQ(make_certs("", good + " cell cell1"), 0);
    ASSERT_EQ(make_certs("", good + " cell cell2"), 0);
    ASSERT_EQ(
        make_certs("NOT_BEFORE=20200101000000Z NOT_AFTER=20210101000000Z", good + " cell stale"),
        0);
    ASSERT_EQ(make_certs("", other + " ca"), 0);
    ASSERT_EQ(make_certs("", other + " cell cell1"), 0);
    ASSERT_EQ(make_certs("CA_DIR=" + good + " NOT_BEFORE=20200101000000Z NOT_AFTER=20210101000000Z",
                         old + " server localhost 127.0.0.1"),
              0);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string file(const std::string& rel) { return (dir_->path() / rel).string(); }

  void start(const std::string& cert_dir = "good") {
    server_.reset();  // one server per SQLite data dir: the old one ends first
    server_ = std::make_unique<ServerProcess>(
        data_.path() / "data",
        std::vector<std::string>{"--tls-cert", file(cert_dir + "/localhost.pem"), "--tls-key",
                                 file(cert_dir + "/localhost.key"), "--tls-client-ca",
                                 file("good/ca.pem")});
    ASSERT_TRUE(server_->started()) << "see " << server_->output_file();
  }

  http::Client client(const http::TlsClientFiles& files, const std::string& bearer = {}) {
    auto ctx = http::make_client_tls_context(files);
    EXPECT_TRUE(ctx) << ctx.error().message;
    return http::Client({"127.0.0.1", std::to_string(server_->port()), true}, bearer,
                        ctx ? *ctx : nullptr);
  }

  static inline TempDir* dir_ = nullptr;
  TempDir data_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Tls, AClientThatTrustsTheCaIsServed) {
  start();
  auto c = client({.ca_file = file("good/ca.pem")}, server_->admin_token());
  auto r = c.request("GET", "/healthz");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  auto apps = c.request("GET", "/apps");
  ASSERT_TRUE(apps) << apps.error().message;
  EXPECT_EQ(apps->status, 200u);
}

TEST_F(Tls, AClientWithAnotherCaRefusesTheServer) {
  start();
  auto c = client({.ca_file = file("other/ca.pem")});
  auto r = c.request("GET", "/healthz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "TLS_FAILED") << r.error().message;
}

TEST_F(Tls, AnExpiredServerCertificateIsRefusedByTheClient) {
  start("old");
  auto c = client({.ca_file = file("good/ca.pem")});
  auto r = c.request("GET", "/healthz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "TLS_FAILED");
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;
}

TEST_F(Tls, PlainHttpToTheTlsPortIsToldToUseHttps) {
  start();
  auto r = http_request(server_->port(), "GET", "/healthz", "", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "TLS_REQUIRED") << r.body;
  // And the server goes on serving HTTPS.
  auto c = client({.ca_file = file("good/ca.pem")});
  auto ok = c.request("GET", "/healthz");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200u);
}

TEST_F(Tls, ACellCertificateActsAsItsOwnCellOnly) {
  start();
  auto cell1 = client({.ca_file = file("good/ca.pem"),
                       .cert_file = file("good/cell-cell1.pem"),
                       .key_file = file("good/cell-cell1.key")});
  auto own = cell1.request("POST", "/internal/v1/cells/cell1/status", pdp_status("cell1").dump());
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_EQ(own->status, 200u) << own->body;
  auto other = cell1.request("POST", "/internal/v1/cells/cell2/status", pdp_status("cell2").dump());
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->status, 403u) << other->body;
  EXPECT_EQ(other->error_code(), "CELL_MISMATCH");
  // The certificate is for the internal API only: no external API answers it.
  auto apps = cell1.request("GET", "/apps");
  ASSERT_TRUE(apps);
  EXPECT_EQ(apps->status, 401u);
  // cell2 was never registered by anybody.
  auto admin = client({.ca_file = file("good/ca.pem")}, server_->admin_token());
  auto cells = admin.request("GET", "/internal/v1/cells");
  ASSERT_TRUE(cells);
  EXPECT_EQ(cells->body.find("\"cell2\""), std::string::npos) << cells->body;
  EXPECT_NE(cells->body.find("\"cell1\""), std::string::npos) << cells->body;
}

TEST_F(Tls, AnExpiredCellCertificateIsRefused) {
  start();
  auto stale = client({.ca_file = file("good/ca.pem"),
                       .cert_file = file("good/cell-stale.pem"),
                       .key_file = file("good/cell-stale.key")});
  auto r = stale.request("POST", "/internal/v1/cells/stale/status", pdp_status("stale").dump());
  if (r) {
    EXPECT_NE(r->status, 200u) << r->body;
  } else {
    EXPECT_TRUE(r.error().code == "TLS_FAILED" || r.error().code == "SERVER_UNREACHABLE")
        << r.error().code << ": " << r.error().message;
  }
}

TEST_F(Tls, ACellCertificateFromAnotherCaIsRefused) {
  start();
  auto forged = client({.ca_file = file("good/ca.pem"),
                        .cert_file = file("other/cell-cell1.pem"),
                        .key_file = file("other/cell-cell1.key")});
  auto r = forged.request("POST", "/internal/v1/cells/cell1/status", pdp_status("cell1").dump());
  if (r) {
    EXPECT_NE(r->status, 200u) << r->body;
  } else {
    EXPECT_TRUE(r.error().code == "TLS_FAILED" || r.error().code == "SERVER_UNREACHABLE")
        << r.error().code << ": " << r.error().message;
  }
}

TEST_F(Tls, WithoutAClientCertificateTokensStillWork) {
  start();
  auto c = client({.ca_file = file("good/ca.pem")});
  auto anonymous = c.request("GET", "/internal/v1/cells");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401u);
  auto admin = client({.ca_file = file("good/ca.pem")}, server_->admin_token());
  auto r = admin.request("GET", "/internal/v1/cells");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
}

}  // namespace
}  // namespace wiretag::test
