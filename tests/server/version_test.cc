// The build's version (include/wiretag/version.h, generated): `--version` on all three
// binaries, and the server's GET /healthz.
#include "wiretag/version.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>
#include <string>

#include "server_process.h"

namespace wiretag::test {
namespace {

struct Exit {
  int status = -1;
  std::string out;
};

Exit run(const std::string& command) {
  Exit r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 256> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int ws = ::pclose(p);
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  return r;
}

TEST(Version, IsTheProjectVersionAndTheGitDescriptionIfAny) {
  EXPECT_TRUE(
      std::regex_match(std::string(kVersion), std::regex(R"([0-9]+\.[0-9]+\.[0-9]+( \(\S+\))?)")))
      << kVersion;
  EXPECT_EQ(std::string(kVersion).rfind(WIRETAG_VERSION, 0), 0u) << kVersion;
}

TEST(Version, EachBinaryPrintsItAndExitsZero) {
  for (auto [program, bin] :
       {std::pair{"wiretag", WIRETAG_CLI_BIN}, std::pair{"wiretag-server", WIRETAG_SERVER_BIN},
        std::pair{"wiretag-agent", WIRETAG_AGENT_BIN}}) {
    Exit r = run(std::string(bin) + " --version");
    EXPECT_EQ(r.status, 0) << program << ": " << r.out;
    EXPECT_EQ(r.out, version_line(program) + "\n") << program;
  }
}

class VersionHealth : public ServerTest {};

TEST_F(VersionHealth, ServerHealthzCarriesIt) {
  auto h = s().get("/healthz");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.json()["version"], std::string(kVersion));
  EXPECT_EQ(h.json()["status"], "ok");  // the fields it had stay
  EXPECT_TRUE(h.json().contains("revision"));
}

}  // namespace
}  // namespace wiretag::test
