// The agent's link to the policy server (SPEC §4.1 push, §4.4 PDP_STATUS): a watch loop
// that follows the server's change log and applies what touches this cell's apps, full
// resyncs (on start, on a gap or a new store, periodically with jitter), jittered
// reconnect backoff, and the PDP_STATUS heartbeat. While the server is away nothing in
// the datapath changes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/assignment.h"
#include "agent/cell.h"
#include "agent/server_messages.h"
#include "agent/server_pool.h"
#include "http/client.h"
#include "wiretag/result.h"

namespace wiretag::agent {

struct LinkOptions {
  http::BaseUrl server;
  // Several servers (--server A,B): the link fails over between them (server_pool.h); unset,
  // `server` alone with backoff_min/backoff_max.
  std::shared_ptr<ServerPool> servers;
  std::string token;
  // For an https server: whom to trust and, for mutual TLS, the cell's certificate.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string cell = "cell";
  std::string group = "defaultGroup";
  std::string pdp_type = "tc";
  int tag_length = 2;
  std::chrono::seconds watch_timeout{30};  // long poll: how long it waits; stream: heartbeats
  bool stream = true;  // the watch as one streamed answer (stream=1) rather than long polls
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::seconds resync_interval{300};  // ± 20 % jitter
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{30000};
  // Called once a change the server committed at this time (unix ms) is in force on the cell
  // (wiretag_policy_propagation_seconds); changes applied by a full resync are not reported.
  std::function<void(int64_t committed_at_ms)> in_force;
  // Takes a watch line that is a request to the cell (true), not a change; set, the streamed
  // watch names the cell (cell=NAME) and the server sends it requests.
  std::function<bool(const nlohmann::json& line)> take_request;
  // Takes every cell's VTEP addresses, as each PDP_STATUS reply names them (`vteps`): what
  // the cell's XDP gate believes. Unset: the replies' set is ignored.
  std::function<void(const std::vector<std::string>& vteps)> vteps;
};

// The PAP's view of this cell as the link keeps it: the assignment last learned and which of
// its policy versions the cell holds completely (reported in PDP_STATUS `policies`) or could
// not apply (`failedPolicies`, with the reason).
struct PdpView {
  std::optional<Assignment> assignment;
  std::vector<PolicyVersion> held;
  std::vector<FailedPolicy> failed;
};

class ServerLink {
 public:
  ServerLink(LinkOptions options, PolicySink& sink);
  ~ServerLink();

  // Effective rules of these apps under this cell's deployed policies, read by the server in
  // one transaction, with the cell's assignment. A server that has not heard of the cell
  // (it restarted) is sent a PDP_STATUS first.
  Result<ServerSnapshot> query(const std::vector<std::string>& apps);

  // Starts the watch and heartbeat threads. `extra` adds fields to each PDP_STATUS (the
  // statistics and datapath counters); the link fills the ONAP identity, state, health and
  // policies itself. Sent on start, every heartbeat interval and whenever what the cell
  // holds changes.
  void start(std::function<nlohmann::json()> extra = {});
  void stop();

  // True after the first full resync since start.
  bool synced() const { return synced_; }
  bool connected() const { return connected_; }
  int64_t revision() const { return revision_; }
  // The newest revision the server's watch named (wiretag_watch_lag_revisions).
  int64_t server_revision() const { return server_revision_; }
  // Full resyncs done and watch replies handled, for tests and /metrics.
  uint64_t resyncs() const { return resyncs_; }
  uint64_t watch_replies() const { return watch_replies_; }
  // Asks the watch loop for a full resync as soon as possible.
  void request_resync() { resync_requested_ = true; }
  // A full resync now, on the caller's thread (serialized with the link's own): every
  // followed app's rules and the assignment read again from the server and applied.
  Result<void> full_resync();

  // The PDP_STATUS body now.
  nlohmann::json status_body();
  // Sends one PDP_STATUS now and acts on the assignment in the reply: the mode at once; a
  // resync when the policies deployed differ from those the cell holds.
  Result<void> send_status();

  PdpView pdp() const;
  // The servers and which one the link holds.
  const ServerPool& servers() const { return *pool_; }
  // What PDP_STATUS reports changed (held policies, state, hosted apps): sent now.
  void status_changed();

 private:
  void watch_loop();
  // One long poll, or one stream until it ends or the loop must resync.
  Result<void> watch_once();
  // Whether the loop must leave the watch for a full resync (asked for, or periodic).
  bool resync_due() const;
  void heartbeat_loop();
  Result<void> handle_watch_reply(const nlohmann::json& body);
  Result<ServerSnapshot> query_once(const std::vector<std::string>& apps);
  Result<Assignment> post_status();
  // Whether an event can change this cell's rules under its assignment (edges only when
  // default-whitelist is deployed to it); pdp.* events are handled here.
  bool relevant(const ChangeEvent& event);
  // A mode learned at `revision`: applied unless a newer one was.
  void use_mode(datapath::Mode mode, int64_t revision);
  // A frozen assignment (locked, or SAFE): learned, with its mode unless locked; no rules.
  void hold(const Assignment& assignment);
  // After rules were applied under `assignment` (`full`: every followed app).
  void record_apply(const Assignment& assignment, const ApplyReport& report, bool full);
  // The held server failed (as the watch saw it at `generation`): move on, then wait.
  bool fail_over(uint64_t generation, const Error& why, const char* what);
  // The held server answered: connected, backoff reset, logged once per server held.
  void heard_from_server() {
    connected_ = true;
    pool_->answered(revision_);
  }
  bool sleep_for(std::chrono::milliseconds d);  // false when stopping

  LinkOptions options_;
  PolicySink& sink_;
  std::shared_ptr<ServerPool> pool_;
  PooledClient watch_client_;
  std::mutex query_mu_;
  PooledClient query_client_;
  std::mutex status_mu_;
  PooledClient status_client_;
  std::function<nlohmann::json()> extra_status_;

  // The PAP view (pdp_mu_); resync_mu_ serializes resyncs between the watch and heartbeat.
  mutable std::mutex pdp_mu_;
  PdpView pdp_;
  std::vector<PolicyVersion> failed_for_;  // the deployment last found not to fit
  std::mutex mode_mu_;
  int64_t mode_revision_ = -1;
  std::atomic<uint64_t> status_seq_{0};
  std::mt19937_64 resync_rng_{std::random_device{}()};  // under resync_mu_
  bool status_dirty_ = false;
  std::mutex resync_mu_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> resync_requested_{true};
  std::atomic<int64_t> revision_{0}, server_revision_{0};
  std::atomic<uint64_t> resyncs_{0}, watch_replies_{0};
  std::string store_id_;
  // steady_clock ticks; written by a resync on either thread, read by the watch loop.
  std::atomic<std::chrono::steady_clock::rep> next_periodic_resync_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread watch_thread_, heartbeat_thread_;
};

}  // namespace wiretag::agent
