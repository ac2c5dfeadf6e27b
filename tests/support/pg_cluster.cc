#include "pg_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <vector>

namespace wiretag::test {
namespace {

namespace fs = std::filesystem;

// Debian's postgresql package: /usr/lib/postgresql/<major>/bin; the highest major there.
fs::path pg_bindir() {
  if (const char* dir = std::getenv("WIRETAG_PG_BINDIR"); dir && *dir) return dir;
  fs::path best;
  int best_major = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int major = std::atoi(entry.path().filename().c_str());
    if (major > best_major && fs::exists(entry.path() / "bin" / "initdb")) {
      best_major = major;
      best = entry.path() / "bin";
    }
  }
  return best;
}

struct Owner {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  bool switch_user = false;  // root: run the cluster's commands as `postgres`
};

Owner cluster_owner() {
  Owner o;
  if (o.uid != 0) return o;
  if (const passwd* pw = ::getpwnam("postgres")) {
    o.uid = pw->pw_uid;
    o.gid = pw->pw_gid;
    o.switch_user = true;
  }
  return o;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool PgCluster::run(const std::vector<std::string>& argv, const std::string& log, bool as_owner) {
  Owner owner = cluster_owner();
  owner.switch_user = owner.switch_user && as_owner;
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (owner.switch_user &&
        (::setgroups(0, nullptr) != 0 || ::setgid(owner.gid) != 0 || ::setuid(owner.uid) != 0))
      ::_exit(126);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  if (pid < 0) return false;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

PgCluster::PgCluster(const Options& options) {
  const fs::path bin = pg_bindir();
  if (bin.empty()) {
    error_ =
        "no PostgreSQL server binaries under /usr/lib/postgresql (scripts/install-deps.sh "
        "installs the postgresql package)";
    return;
  }
  std::random_device rd;
  dir_ = fs::temp_directory_path() /
         ("wiretag-pg-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000));
  fs::create_directories(dir_);
  const Owner owner = cluster_owner();
  if (::chown(dir_.c_str(), owner.uid, owner.gid) != 0 || ::chmod(dir_.c_str(), 0700) != 0) {
    error_ = "cannot hand " + dir_.string() + " to the cluster's user";
    return;
  }
  // The watchdog: when this process is gone (its pipe's end closes), stop the postmaster
  // (SIGQUIT: immediate shutdown) and remove the dir.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == 0) {
    const std::string script = "read _; pid=$(head -n 1 '" + dir_.string() +
                               "/data/postmaster.pid' 2>/dev/null); if [ -n \"$pid\" ]; then "
                               "kill -QUIT \"$pid\" 2>/dev/null; sleep 1; fi; rm -rf '" +
                               dir_.string() + "'";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[0], 0);
      ::setsid();  // not in the test's process group: a group kill leaves the cleaner alive
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    watchdog_ = pid;
    watchdog_pipe_ = fds[1];
  }
  const fs::path data = dir_ / "data";
  const std::string log = (dir_ / "setup.log").string();
  const fs::path tmpl = fs::path(WIRETAG_PG_TEMPLATE_DIR) / std::to_string(::geteuid());
  if (fs::exists(tmpl / "PG_VERSION")) {
    // As this process: cp -a keeps the owner (root copies postgres's files as postgres's).
    if (!run({"/bin/cp", "-a", tmpl.string(), data.string()}, log, false)) {
      error_ = "cannot copy the template cluster " + tmpl.string() + ": " + read_file(log);
      return;
    }
  } else {
    if (!run({(bin / "initdb").string(), "-D", data.string(), "-U", "wiretag", "-A", "trust",
              "--no-sync", "-E", "UTF8", "--locale=C"},
             log, true)) {
      error_ = "initdb failed: " + read_file(log);
      return;
    }
    // Kept for the next clusters of this build; made aside, then renamed into place.
    std::error_code ec;
    fs::create_directories(tmpl.parent_path(), ec);
    const fs::path staging = tmpl.string() + ".tmp" + std::to_string(::getpid());
    if (run({"/bin/cp", "-a", data.string(), staging.string()}, log, false))
      fs::rename(staging, tmpl, ec);
    fs::remove_all(staging, ec);
  }
  // Only the unix socket in dir_; fsync off unless durable (the tests do not crash the host).
  const std::string flags = "-k " + dir_.string() +
                            " -c listen_addresses=" + (options.durable ? "" : " -F") +
                            " -c max_connections=" + std::to_string(options.max_connections);
  if (!run({(bin / "pg_ctl").string(), "-D", data.string(), "-w", "-t", "60", "-l",
            (dir_ / "postgres.log").string(), "-o", flags, "start"},
           log, true)) {
    error_ = "pg_ctl start failed: " + read_file(log) + read_file(dir_ / "postgres.log");
    return;
  }
  started_ = true;
}

PgCluster::~PgCluster() {
  if (started_) {
    const fs::path bin = pg_bindir();
    (void)run({(bin / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "immediate", "-w",
               "stop"},
              "/dev/null", true);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  if (watchdog_pipe_ >= 0) ::close(watchdog_pipe_);
  if (watchdog_ > 0) {
    int status = 0;
    ::waitpid(watchdog_, &status, 0);
  }
}

std::string PgCluster::url(const std::string& db) const {
  return "postgresql:///" + db + "?host=" + dir_.string() + "&user=wiretag";
}

Result<std::string> PgCluster::create_database(const std::string& name) {
  const std::string db = name.empty() ? "t" + std::to_string(++databases_) : name;
  PGconn* conn = PQconnectdb(url("postgres").c_str());
  std::string err;
  if (PQstatus(conn) != CONNECTION_OK) {
    err = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, ("CREATE DATABASE \"" + db + "\"").c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  if (!err.empty()) return Error{"DB_CREATE_FAILED", "CREATE DATABASE " + db + ": " + err};
  return url(db);
}

PgCluster& PgCluster::shared() {
  static PgCluster cluster;
  return cluster;
}

}  // namespace wiretag::test
