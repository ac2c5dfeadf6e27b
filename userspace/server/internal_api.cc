#include "server/internal_api.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "core/app_guid.h"
#include "http/json_input.h"
#include "http/line_stream.h"
#include "server/cell_view.h"
#include "server/pdp_messages.h"
#include "server/pdp_status_input.h"

namespace wiretag {
namespace {

namespace asio = boost::asio;
using http::Reply;
using http::Request;
using nlohmann::json;

constexpr int64_t kMaxEvents = 1000;
constexpr int64_t kDefaultWatchSeconds = 30;
constexpr int64_t kMaxWatchSeconds = 300;
constexpr size_t kMaxQueryApps = 10000;
// Bytes a streamed watch may have queued for a client that does not keep up before the
// stream ends: the client reconnects from the last revision it got.
constexpr size_t kMaxStreamQueuedBytes = 4 << 20;

// A non-negative decimal integer of at most 18 digits, or nullopt.
std::optional<int64_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(s);
}

struct AppQuery {
  std::vector<std::string> apps;
  std::optional<std::string> cell;
};

// {"apps":[guid,…],"cell"?}: 1-10000 valid guids, and the cell asking.
Result<AppQuery> parse_app_query(const std::string& body) {
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(*j, {"apps"}, {"cell"}); !r) return r.error();
  AppQuery out;
  if (j->contains("cell")) {
    WT_TRY(cell, http::string_field(*j, "cell"));
    if (!is_valid_app_guid(*cell))
      return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
    out.cell = *cell;
  }
  const json& apps = (*j)["apps"];
  if (!apps.is_array()) return Error{"INVALID_FIELD_TYPE", "\"apps\" must be an array of guids"};
  if (apps.empty() || apps.size() > kMaxQueryApps)
    return Error{"INVALID_APP_COUNT", "\"apps\" must hold 1-10000 guids"};
  out.apps.reserve(apps.size());
  for (const json& g : apps) {
    if (!g.is_string()) return Error{"INVALID_FIELD_TYPE", "\"apps\" must hold strings"};
    out.apps.push_back(g.get<std::string>());
    if (auto r = check_app_guid(out.apps.back()); !r) return r.error();
  }
  return out;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One long poll: answered once, by a change, its timeout or the server's shutdown.
struct Watch {
  Watch(asio::io_context& ioc, int64_t since, http::Respond respond)
      : strand(asio::make_strand(ioc)), timer(strand), since(since), respond(std::move(respond)) {}
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;  // used on the strand only
  int64_t since;
  http::Respond respond;
  std::atomic<bool> answered{false};
  std::atomic<ChangeNotifier::WaiterId> waiter{0};
};

// What a watch answers for a `since` now, serialized once: every long poll and stream asking
// for the same range gets the same buffer.
struct WatchAnswer {
  int64_t revision = 0;  // the next since
  bool resync = false;
  bool wait = false;  // no events: the log has nothing after since yet
  std::shared_ptr<const std::string> json;
};

// One streamed watch (stream=1): a line at once, then one whenever commits log events after
// the last revision it sent, and a heartbeat line when it sent nothing for `heartbeat`.
struct WatchStream {
  WatchStream(asio::io_context& ioc, int64_t since, int64_t heartbeat,
              std::shared_ptr<http::LineStream> lines)
      : strand(asio::make_strand(ioc)),
        timer(strand),
        since(since),
        heartbeat(heartbeat),
        lines(std::move(lines)) {}
  asio::strand<asio::io_context::executor_type> strand;
  // The rest is used on the strand only.
  asio::steady_timer timer;  // the heartbeat
  int64_t since;             // the revision of the last line sent
  int64_t heartbeat;         // seconds; 0: one line, then the stream ends
  std::shared_ptr<http::LineStream> lines;
  ChangeNotifier::WaiterId waiter = 0;
  std::chrono::steady_clock::time_point last_line;
  bool sent_any = false;
  bool heartbeat_due = false;
  bool timer_armed = false;
  bool ended = false;
};

class InternalApi : public std::enable_shared_from_this<InternalApi> {
 public:
  InternalApi(PolicyGraph& graph, Pap& pap, ChangeNotifier& notifier, CellRegistry& cells,
              CellRequests& requests, Authenticator& auth, asio::io_context& ioc,
              int64_t heartbeat_ms)
      : graph_(graph),
        pap_(pap),
        notifier_(notifier),
        cells_(cells),
        requests_(requests),
        auth_(auth),
        ioc_(ioc),
        heartbeat_ms_(heartbeat_ms) {}

  // GET /internal/v1/watch?since=REV[&timeout=SECONDS][&stream=0|1]
  // With cell=NAME (as that cell) a stream also carries the cell's requests (cell_requests.h).
  void watch(const Request& req, http::Respond respond) {
    auto who = auth_.authenticate_internal(req);
    if (!who) return respond(who.error());
    auto cell = watch_cell(*who, req);
    if (!cell) return respond(cell.error());
    if (!req.query.count("since"))
      return respond(Error{"INVALID_REVISION", "since=REV is required"});
    auto since = parse_count(req.query_value("since"));
    if (!since) return respond(Error{"INVALID_REVISION", "since must be an integer >= 0"});
    int64_t timeout = kDefaultWatchSeconds;
    if (req.query.count("timeout")) {
      auto t = parse_count(req.query_value("timeout"));
      if (!t || *t > kMaxWatchSeconds)
        return respond(Error{"INVALID_QUERY", "timeout must be an integer 0-300 (seconds)"});
      timeout = *t;
    }
    bool stream = false;
    if (req.query.count("stream")) {
      const std::string value = req.query_value("stream");
      if (value != "0" && value != "1")
        return respond(Error{"INVALID_STREAM", "stream must be 0 (long poll) or 1 (stream)"});
      stream = value == "1";
    }
    auto now = events_after(*since);
    if (!now) return respond(now.error());
    if (stream) return start_stream(*since, timeout, *now, *cell, std::move(respond));
    if (!now->wait || timeout == 0) return respond(reply_of(*now));

    auto w = std::make_shared<Watch>(ioc_, *since, std::move(respond));
    auto self = shared_from_this();
    w->timer.expires_after(std::chrono::seconds(timeout));
    w->timer.async_wait([self, w](boost::system::error_code ec) {
      if (!ec) self->answer(w);
    });
    auto id = notifier_.wait(*since,
                             [self, w] { asio::post(w->strand, [self, w] { self->answer(w); }); });
    w->waiter = id;
    if (w->answered) notifier_.cancel(id);  // answered by the timer before the id was known
  }

  // GET /internal/v1/changes?since=REV → {"revision","changes":[…]}
  Result<Reply> changes(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    int64_t since = 0;
    if (req.query.count("since")) {
      auto s = parse_count(req.query_value("since"));
      if (!s) return Error{"INVALID_QUERY", "since must be a non-negative integer"};
      since = *s;
    }
    WT_TRY(batch, graph_.change_batch(since, kMaxEvents));
    json items = json::array();
    for (const ChangeRecord& c : batch->changes) items.push_back(event_json(c));
    const bool resync = since > batch->revision || since < batch->horizon;
    return Reply{200, json{{"revision", batch->revision}, {"resync", resync}, {"changes", items}}};
  }

  // POST /internal/v1/endpoints/query {"apps":[…],"cell"?}: each app's effective inbound
  // rules; with a cell, those of the policy versions deployed to the cell's subgroup.
  Result<Reply> query(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    WT_TRY(q, parse_app_query(req.body));
    if (q->cell)
      if (auto r = who->may_act_as_cell(*q->cell); !r) return r.error();
    CellAssignment assigned;
    WT_TRY(found, q->cell ? pap_.effective_rules(*q->cell, q->apps, &assigned)
                          : graph_.effective_rules(q->apps));
    json apps = json::array();
    for (const AppRules& a : found->apps) {
      json rules = json::array();
      for (const EffectiveRule& r : a.rules) {
        json rule = {{"source", r.source},
                     {"source_tag", r.source_tag},
                     {"protocol", std::string(to_string(r.protocol))}};
        if (r.ports) rule["ports"] = {{"start", r.ports->start}, {"end", r.ports->end}};
        if (!r.policies.empty()) rule["policies"] = r.policies;
        rules.push_back(std::move(rule));
      }
      apps.push_back({{"guid", a.app.guid},
                      {"account", a.app.account},
                      {"wire_bytes", graph_.tags().wire_bytes(a.app.tag)},
                      {"tag", a.app.tag},
                      {"rules", std::move(rules)}});
    }
    json out = header(found->revision);
    out["apps"] = std::move(apps);
    out["missing"] = found->missing;
    if (q->cell) out["cell"] = assignment_json(*q->cell, assigned);
    return Reply{200, out};
  }

  // POST /internal/v1/cells/:name/status with a PDP_STATUS body: a cell's heartbeat.
  Result<Reply> cell_status(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    if (auto r = who->may_act_as_cell(req.param("name")); !r) return r.error();
    WT_TRY(report, parse_pdp_status(req.body, req.param("name"), heartbeat_ms_));
    if (auto r = who->may_act_as_cell(report->name); !r) return r.error();
    WT_TRY(assigned, pap_.assignment(report->pdp_group, report->pdp_subgroup));
    WT_TRY(types, pap_.policy_types(assigned->policies));
    json out = pdp_status_reply(*report, *assigned, *types, unix_ms());
    out["heartbeatIntervalMs"] = report->heartbeat_interval_ms;
    if (auto r = cells_.report(std::move(*report)); !r) return r.error();
    out["vteps"] = cells_.vteps();  // what the cell's XDP gate believes
    return Reply{200, out};
  }

  Result<Reply> list_cells(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    json out = json::array();
    for (const Cell& c : cells_.list()) out.push_back(cell_json(c));
    return Reply{200, json{{"cells", out}}};
  }

  Result<Reply> get_cell(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    const std::string name = req.param("name");
    if (!is_valid_app_guid(name))
      return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
    auto cell = cells_.find(name);
    if (!cell) return Error{"CELL_NOT_FOUND", "no cell \"" + name + "\" has reported"};
    return Reply{200, cell_json(*cell)};
  }

  // GET /internal/v1/status: what an agent checks at start, and how many watches wait.
  Result<Reply> status(const Request& req) {
    WT_TRY(who, auth_.authenticate_internal(req));
    WT_TRY(rev, graph_.revision());
    json out = header(*rev);
    out["watches"] = notifier_.waiting();
    out["streams"] = streams_.load();
    out["cells"] = cells_.list().size();
    return Reply{200, out};
  }

 private:
  json header(int64_t revision) const {
    return {{"store_id", graph_.store_id()},
            {"tag_length", graph_.tags().length()},
            {"revision", revision}};
  }

  json event_json(const ChangeRecord& c) const {
    json e = {{"revision", c.revision},
              {"kind", c.kind},
              {"account", c.account},
              {"subject", c.subject},
              {"body", json::parse(c.body, nullptr, false)},
              {"principal", c.principal.empty() ? json(nullptr) : json(c.principal)}};
    if (auto at = notifier_.committed_at_ms(c.revision)) e["committed_at_ms"] = *at;
    return e;
  }

  static Reply reply_of(const WatchAnswer& a) {
    Reply reply{200, nullptr};
    reply.serialized = a.json;
    return reply;
  }

  // The watch answer for `since` now.
  //
  // Every agent's watch asks this, and after a change they all ask with the same `since`: so
  // a client already at the revision this server last committed waits without reading the
  // store, and one read answers every client asking for the same range (memoized until the
  // revision moves on). With 100 agents that is one read and one serialization per change
  // instead of 100 (reads of a range not yet memoized take turns, so none is done twice).
  Result<WatchAnswer> events_after(int64_t since) {
    const int64_t known = notifier_.revision();
    if (since == known) {
      json out = header(known);
      out["resync"] = false;
      out["events"] = json::array();
      return WatchAnswer{known, false, true, serialize(out)};
    }
    if (auto memo = memoized(since, known)) return *memo;
    std::lock_guard reading(read_mu_);
    if (auto memo = memoized(since, known)) return *memo;
    auto fresh = read_events_after(since);
    if (fresh && since < known) {
      std::lock_guard lock(answers_mu_);
      if (answers_.size() >= 64) answers_.clear();  // old ranges: clients moved on
      answers_[since] = Answer{known, *fresh};
    }
    return fresh;
  }

  std::optional<WatchAnswer> memoized(int64_t since, int64_t known) {
    std::lock_guard lock(answers_mu_);
    if (auto it = answers_.find(since); it != answers_.end() && it->second.revision >= known)
      return it->second.answer;
    return std::nullopt;
  }

  static std::shared_ptr<const std::string> serialize(const json& j) {
    return std::make_shared<const std::string>(
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  Result<WatchAnswer> read_events_after(int64_t since) {
    WT_TRY(batch, graph_.change_batch(since, kMaxEvents));
    WatchAnswer a;
    json out = header(batch->revision);
    json events = json::array();
    // A client ahead of the store has followed another database (or a restored one); one
    // behind the horizon asks for changes compacted away (change_batch gave none).
    a.resync = since > batch->revision || since < batch->horizon;
    out["resync"] = a.resync;
    for (const ChangeRecord& c : batch->changes) events.push_back(event_json(c));
    a.revision = batch->changes.empty() ? batch->revision : batch->changes.back().revision;
    out["revision"] = a.revision;
    a.wait = since == batch->revision;
    out["events"] = std::move(events);
    a.json = serialize(out);
    return a;
  }

  // On the watch's strand, once: by a change, the timer, or the notifier closing.
  void answer(const std::shared_ptr<Watch>& w) {
    if (w->answered.exchange(true)) return;
    if (auto id = w->waiter.load()) notifier_.cancel(id);
    w->timer.cancel();
    auto now = events_after(w->since);
    if (!now) return w->respond(now.error());
    w->respond(reply_of(*now));
  }

  // The streamed watch: answers 200 with the stream at once; `first` is its first line.
  void start_stream(int64_t since, int64_t timeout, const WatchAnswer& first,
                    const std::string& cell, http::Respond respond) {
    auto lines = std::make_shared<http::LineStream>(kMaxStreamQueuedBytes);
    if (!cell.empty()) requests_.attach(cell, lines);
    auto s = std::make_shared<WatchStream>(ioc_, since, timeout, lines);
    auto self = shared_from_this();
    ++streams_;
    lines->on_end(
        [self, s](http::LineStream::End) { asio::post(s->strand, [self, s] { self->stop(s); }); });
    asio::post(s->strand, [self, s, first] { self->send(s, first); });
    Reply reply{200, nullptr};
    reply.headers.emplace_back("Content-Type", "application/x-ndjson");
    reply.lines = std::move(lines);
    respond(std::move(reply));
  }

  // On the stream's strand: woken by a commit, the heartbeat timer or a drained queue.
  void advance(const std::shared_ptr<WatchStream>& s) {
    if (s->ended) return;
    if (s->waiter) notifier_.cancel(std::exchange(s->waiter, 0));
    if (notifier_.closed()) return s->lines->finish(http::LineStream::End::Shutdown);
    auto now = events_after(s->since);
    if (!now) {
      // The client reconnects from its last revision and asks again.
      spdlog::warn("watch stream: {}", now.error().message);
      return s->lines->finish();
    }
    send(s, *now);
  }

  void send(const std::shared_ptr<WatchStream>& s, const WatchAnswer& a) {
    if (s->ended) return;
    if (!a.wait || a.resync || !s->sent_any || s->heartbeat_due) {
      if (!s->lines->push(a.json)) return;  // ended (a slow client): stop() follows
      s->sent_any = true;
      s->heartbeat_due = false;
      s->last_line = std::chrono::steady_clock::now();
      if (s->heartbeat > 0 && !s->timer_armed) arm_heartbeat(s, std::chrono::seconds(s->heartbeat));
    }
    // After a resync the client fetches everything again; timeout=0 asked for one line.
    if (a.resync || s->heartbeat == 0) return s->lines->finish();
    if (!a.wait) s->since = a.revision;
    auto self = shared_from_this();
    auto wake = [self, s] { asio::post(s->strand, [self, s] { self->advance(s); }); };
    // More than one batch behind: the next batch once this one is written, not all at once.
    if (s->since < notifier_.revision()) return s->lines->on_drained(wake);
    s->waiter = notifier_.wait(s->since, wake);
  }

  // Not re-armed for every line (a cancel and a handler per change and stream): when it fires
  // it sends a heartbeat if none is due yet, or waits for the rest of the interval.
  void arm_heartbeat(const std::shared_ptr<WatchStream>& s,
                     std::chrono::steady_clock::duration delay) {
    s->timer_armed = true;
    s->timer.expires_after(delay);
    s->timer.async_wait([self = shared_from_this(), s](boost::system::error_code ec) {
      s->timer_armed = false;
      if (ec || s->ended) return;
      const auto due = s->last_line + std::chrono::seconds(s->heartbeat);
      if (const auto now = std::chrono::steady_clock::now(); now < due)
        return self->arm_heartbeat(s, due - now);
      s->heartbeat_due = true;
      self->advance(s);
    });
  }

  // On the stream's strand, once the stream ended for any reason.
  void stop(const std::shared_ptr<WatchStream>& s) {
    if (s->ended) return;
    s->ended = true;
    --streams_;
    if (s->waiter) notifier_.cancel(std::exchange(s->waiter, 0));
    s->timer.cancel();
  }

  struct Answer {
    int64_t revision = 0;  // the notifier's revision when it was read: valid until it moves
    WatchAnswer answer;
  };
  std::mutex read_mu_;  // one store read at a time for ranges not memoized
  std::mutex answers_mu_;
  std::map<int64_t, Answer> answers_;  // since → the watch answer
  std::atomic<int64_t> streams_{0};

  PolicyGraph& graph_;
  Pap& pap_;
  ChangeNotifier& notifier_;
  CellRegistry& cells_;
  CellRequests& requests_;
  Authenticator& auth_;
  asio::io_context& ioc_;
  const int64_t heartbeat_ms_;  // the interval of a cell that does not say its own
};

}  // namespace

void add_internal_routes(http::Router& router, PolicyGraph& graph, Pap& pap,
                         ChangeNotifier& notifier, CellRegistry& cells, CellRequests& requests,
                         Authenticator& auth, asio::io_context& ioc,
                         int64_t pdp_heartbeat_interval_ms) {
  auto api = std::make_shared<InternalApi>(graph, pap, notifier, cells, requests, auth, ioc,
                                           pdp_heartbeat_interval_ms);
  auto bind = [api](Result<Reply> (InternalApi::*fn)(const Request&)) {
    return [api, fn](const Request& req) { return ((*api).*fn)(req); };
  };
  router
      .add_async(http::Method::Get, "/internal/v1/watch",
                 [api](const Request& q, http::Respond done) { api->watch(q, std::move(done)); })
      .get("/internal/v1/changes", bind(&InternalApi::changes))
      .get("/internal/v1/status", bind(&InternalApi::status))
      .post("/internal/v1/endpoints/query", bind(&InternalApi::query))
      .get("/internal/v1/cells", bind(&InternalApi::list_cells))
      .get("/internal/v1/cells/:name", bind(&InternalApi::get_cell))
      .post("/internal/v1/cells/:name/status", bind(&InternalApi::cell_status));
  router.admit({"/internal/v1"},
               [&auth](const Request& q) { return auth.authenticate_internal(q); });
}

}  // namespace wiretag
