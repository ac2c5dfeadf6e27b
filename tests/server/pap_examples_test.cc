// api/pap.yaml's example bodies (api/examples/pap-*.json), sent in the order of a canary
// rollout to the real binary; each documented response is what the server answers.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server_process.h"

namespace wiretag::test {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;

std::string read_api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Answer {
  int status = 0;
  json body;
};

Answer send(unsigned short port, const std::string& user, const std::string& method,
            const std::string& target, const std::string& body = "") {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  std::string b64(beast::detail::base64::encoded_size(user.size()), '\0');
  b64.resize(beast::detail::base64::encode(b64.data(), user.data(), user.size()));
  req.set(bhttp::field::authorization, "Basic " + b64);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), json::parse(res.body(), nullptr, false)};
}

TEST(PapExamples, CanaryRolloutExamplesWork) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  std::string user;
  std::getline(std::ifstream(dir.path() / "data" / "pap-credentials"), user);
  const std::string b = "/policy/pap/v1";
  // A cell in each group, so POST /pdps/policies has a PDP everywhere.
  for (const auto& [cell, group] :
       {std::pair{"cell1", "canary"}, std::pair{"cell2", "defaultGroup"}}) {
    json st = {{"messageName", "PDP_STATUS"}, {"name", cell},      {"pdpType", "tc"},
               {"pdpGroup", group},           {"state", "ACTIVE"}, {"healthy", "HEALTHY"},
               {"heartbeatIntervalMs", 60000}};
    ASSERT_EQ(s.post(std::string("/internal/v1/cells/") + cell + "/status", st.dump()).status, 200);
  }

  auto created = send(s.port(), user, "POST", b + "/pdps/groups/batch",
                      read_api_file("examples/pap-groups-batch.request.json"));
  ASSERT_EQ(created.status, 200) << created.body;
  auto deployed = send(s.port(), user, "POST", b + "/pdps/deployments/batch",
                       read_api_file("examples/pap-deployments-batch.request.json"));
  ASSERT_EQ(deployed.status, 202) << deployed.body;
  EXPECT_EQ(deployed.body, json::parse(read_api_file("examples/pap-deployment.response.json")));
  ASSERT_EQ(send(s.port(), user, "PUT", b + "/pdps/groups/canary?state=ACTIVE").status, 200);
  auto simple = send(s.port(), user, "POST", b + "/pdps/policies",
                     read_api_file("examples/pap-deploy-policies.request.json"));
  ASSERT_EQ(simple.status, 202) << simple.body;

  auto groups = send(s.port(), user, "GET", b + "/pdps");
  json expected = json::parse(read_api_file("examples/pap-groups.response.json"));
  // Heartbeat times differ per run.
  for (json* g : {&groups.body, &expected})
    for (json& grp : (*g)["groups"])
      for (json& sub : grp["pdpSubgroups"])
        for (json& inst : sub["pdpInstances"]) inst.erase("lastUpdate");
  EXPECT_EQ(groups.body, expected);

  auto status = send(s.port(), user, "GET", b + "/policies/status/canary");
  EXPECT_EQ(status.body, json::parse(read_api_file("examples/pap-policy-status.response.json")));
  auto counts = send(s.port(), user, "GET", b + "/policies/deployed/default-whitelist");
  EXPECT_EQ(counts.body, json::parse(read_api_file("examples/pap-deployed.response.json")));

  auto audit = send(s.port(), user, "GET", b + "/policies/audit/canary?recordCount=2");
  json expected_audit = json::parse(read_api_file("examples/pap-audit.response.json"));
  ASSERT_EQ(audit.body.size(), expected_audit.size()) << audit.body;
  for (size_t i = 0; i < expected_audit.size(); ++i)
    for (const char* key : {"pdpGroup", "pdpType", "policy", "action", "user"})
      EXPECT_EQ(audit.body[i][key], expected_audit[i][key]) << i << " " << key;

  auto err = send(s.port(), user, "DELETE", b + "/pdps/groups/canary");
  EXPECT_EQ(err.status, 409);
  EXPECT_EQ(err.body, json::parse(read_api_file("examples/pap-group-not-passive.response.json")));
}

}  // namespace
}  // namespace wiretag::test
