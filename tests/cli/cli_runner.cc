#include "cli_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace wiretag::test {
namespace {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

CliResult run_cli(const CliRun& run) {
  TempDir io;
  const auto out_path = io.path() / "stdout", err_path = io.path() / "stderr",
             in_path = io.path() / "stdin";
  if (run.stdin_text) std::ofstream(in_path, std::ios::binary) << *run.stdin_text;

  // The child's environment: ours without WIRETAG_*, then run.env.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "WIRETAG_", 8) != 0) env.emplace_back(*e);
  for (const auto& [k, v] : run.env) env.push_back(k + "=" + v);
  std::vector<std::string> args = {WIRETAG_CLI_BIN};
  args.insert(args.end(), run.args.begin(), run.args.end());

  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(run.stdin_text ? in_path.c_str() : "/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  CliResult r;
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 6000 && !exited; ++i) {  // 60 s
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  r.status = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

CliResult CliServerTest::cli(std::vector<std::string> args, std::map<std::string, std::string> env,
                             std::optional<std::string> stdin_text) {
  args.insert(args.begin(), {"--server", server_url()});
  if (!env.count("WIRETAG_TOKEN")) env["WIRETAG_TOKEN"] = server_->admin_token();
  if (env["WIRETAG_TOKEN"].empty()) env.erase("WIRETAG_TOKEN");
  if (!env.count("WIRETAG_DATA_DIR")) env["WIRETAG_DATA_DIR"] = data_dir().string();
  return run_cli(CliRun{std::move(args), std::move(env), std::move(stdin_text)});
}

std::string CliServerTest::write_file(const std::string& name, const std::string& content) {
  const auto path = dir_.path() / name;
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

std::vector<std::vector<std::string>> table_rows(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    std::vector<std::string> row;
    std::string c;
    while (cells >> c) row.push_back(c);
    if (!row.empty()) rows.push_back(std::move(row));
  }
  return rows;
}

bool has_row(const std::string& out, const std::vector<std::string>& row) {
  for (const auto& r : table_rows(out))
    if (r == row) return true;
  return false;
}

std::string describe(const CliResult& r) {
  return "exit " + std::to_string(r.status) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

}  // namespace wiretag::test
