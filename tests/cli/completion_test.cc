// `wiretag completion bash`: the script is sourced in a real bash and asked for completions as
// bash would (COMP_WORDS, COMP_CWORD, then the function), for groups, commands, options and
// option values.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

class Completion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto r = run_cli({"completion", "bash"});
    ASSERT_EQ(r.status, 0) << describe(r);
    script_ = (dir_->path() / "wiretag.bash").string();
    std::ofstream(script_) << r.out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // The words bash offers for the command line `line` (the cursor at its end; a trailing
  // space means a new, empty word).
  static std::set<std::string> complete(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string w; in >> w;) words.push_back(w);
    if (line.empty() || line.back() == ' ') words.push_back("");
    std::string array;
    for (const auto& w : words) array += " '" + w + "'";
    const std::string program = "source '" + script_ + "' && COMP_WORDS=(" + array +
                                ") && COMP_CWORD=" + std::to_string(words.size() - 1) +
                                " && _wiretag && printf '%s\\n' \"${COMPREPLY[@]}\"";
    const std::string out_file = (dir_->path() / "out").string();
    const std::string cmd = "cd '" + dir_->path().string() + "' && bash --norc --noprofile -c " +
                            quote(program) + " > '" + out_file + "' 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream res(out_file);
    std::set<std::string> got;
    for (std::string w; std::getline(res, w);)
      if (!w.empty()) got.insert(w);
    return got;
  }
  static std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }

  static TempDir* dir_;
  static std::string script_;
};
TempDir* Completion::dir_ = nullptr;
std::string Completion::script_;

TEST_F(Completion, Groups) {
  EXPECT_EQ(complete("wiretag ed"), (std::set<std::string>{"edge"}));
  auto top = complete("wiretag ");
  for (const char* g : {"app", "edge", "policy", "key", "token", "endpoint", "completion"})
    EXPECT_TRUE(top.count(g)) << g;
  EXPECT_FALSE(top.count("allow")) << "commands of a group only under it";
}

TEST_F(Completion, CommandsOfAGroup) {
  EXPECT_EQ(complete("wiretag edge "), (std::set<std::string>{"allow", "deny", "list"}));
  EXPECT_EQ(complete("wiretag policy v"), (std::set<std::string>{"versions"}));
  EXPECT_EQ(complete("wiretag token r"), (std::set<std::string>{"revoke", "rotate-admin"}));
  // Global options and their values before the group do not lose the path.
  EXPECT_EQ(complete("wiretag --server http://x:1 -o json edge "),
            (std::set<std::string>{"allow", "deny", "list"}));
  // A flag takes no value: the next word is completed as an option.
  EXPECT_EQ(complete("wiretag policy update some-id --clear-refid --n"),
            (std::set<std::string>{"--name"}));
  EXPECT_EQ(complete("wiretag -h ed"), (std::set<std::string>{"edge"}));
  // A command's argument is not a command.
  EXPECT_EQ(complete("wiretag policy get some-id --v"), (std::set<std::string>{"--version"}));
}

TEST_F(Completion, OptionsOfACommand) {
  auto opts = complete("wiretag app list --");
  EXPECT_TRUE(opts.count("--account")) << "its own";
  EXPECT_TRUE(opts.count("--server")) << "global options fall through";
  EXPECT_TRUE(opts.count("--output"));
  EXPECT_TRUE(opts.count("--help"));
  EXPECT_FALSE(opts.count("--from")) << "not another command's";
  EXPECT_EQ(
      complete("wiretag edge allow --p"),
      (std::set<std::string>{"--port", "--ports", "--proto", "--pap-credentials", "--pin-dir"}));
}

TEST_F(Completion, OptionValues) {
  EXPECT_EQ(complete("wiretag edge allow --proto "),
            (std::set<std::string>{"tcp", "udp", "icmp", "any"}));
  EXPECT_EQ(complete("wiretag app list -o "), (std::set<std::string>{"table", "json", "yaml"}));
  EXPECT_EQ(complete("wiretag token create --scope network."),
            (std::set<std::string>{"network.admin", "network.write"}));
  // Other values complete file names (the temp dir holds wiretag.bash).
  EXPECT_EQ(complete("wiretag policy create -f wire"), (std::set<std::string>{"wiretag.bash"}));
}

}  // namespace
}  // namespace wiretag::test
