#include "agent/server_link.h"

#include <algorithm>

#include "common/log.h"

namespace wiretag::agent {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kQueryBatch = 10000;  // the server's limit per query

Error bad(const std::string& what) { return Error{"INVALID_RESPONSE", "server sent " + what}; }

}  // namespace

Result<ChangeEvent> parse_event(const json& j) {
  if (!j.is_object() || !j.contains("revision") || !j["revision"].is_number_integer() ||
      !j.contains("kind") || !j["kind"].is_string())
    return bad("a watch event without revision or kind");
  ChangeEvent e;
  e.revision = j["revision"].get<int64_t>();
  e.kind = j["kind"].get<std::string>();
  if (j.contains("subject") && j["subject"].is_string()) e.subject = j["subject"].get<std::string>();
  if (j.contains("body") && j["body"].is_object()) {
    const json& b = j["body"];
    if (b.contains("destination") && b["destination"].is_string())
      e.destinations.push_back(b["destination"].get<std::string>());
    if (e.kind.starts_with("edge.") && b.contains("source") && b["source"].is_string() &&
        b.contains("destination") && b["destination"].is_string() && b.contains("source_tag") &&
        b["source_tag"].is_number_unsigned() && b.contains("protocol") && b["protocol"].is_string() &&
        b.value("policy", "default-whitelist") == "default-whitelist") {
      if (auto proto = parse_protocol(b["protocol"].get<std::string>())) {
        EdgeChange edge{b["source"].get<std::string>(), b["destination"].get<std::string>(),
                        Rule{b["source_tag"].get<uint32_t>(), *proto, std::nullopt}};
        bool ok = true;
        if (b.contains("ports")) {
          const json& p = b["ports"];
          if (p.is_object() && p.contains("start") && p["start"].is_number_unsigned() &&
              p.contains("end") && p["end"].is_number_unsigned())
            edge.rule.ports = PortRange{p["start"].get<uint16_t>(), p["end"].get<uint16_t>()};
          else
            ok = false;
        }
        if (ok) e.edge = std::move(edge);
      }
    }
    if (b.contains("rules") && b["rules"].is_array())
      for (const json& r : b["rules"])
        if (r.is_object() && r.contains("destination") && r["destination"].is_string())
          e.destinations.push_back(r["destination"].get<std::string>());
  }
  return e;
}

Result<ServerSnapshot> parse_snapshot(const json& j) {
  try {
    ServerSnapshot s;
    s.store_id = j.at("store_id").get<std::string>();
    s.revision = j.at("revision").get<int64_t>();
    for (const json& a : j.at("apps")) {
      AppPolicy p;
      p.guid = a.at("guid").get<std::string>();
      p.tag = a.at("tag").get<uint32_t>();
      p.revision = s.revision;
      for (const json& r : a.at("rules")) {
        Rule rule;
        rule.source_tag = r.at("source_tag").get<uint32_t>();
        auto proto = parse_protocol(r.at("protocol").get<std::string>());
        if (!proto) return bad("an unknown protocol in a rule");
        rule.protocol = *proto;
        if (r.contains("ports")) {
          const json& ports = r["ports"];
          rule.ports = PortRange{ports.at("start").get<uint16_t>(), ports.at("end").get<uint16_t>()};
        }
        p.sources.insert(r.at("source").get<std::string>());
        p.rules.push_back(rule);
      }
      canonicalize(p.rules);  // so "same rules" compares equal however the server listed them
      s.apps.push_back(std::move(p));
    }
    if (j.contains("missing"))
      for (const json& m : j["missing"]) s.missing.push_back(m.get<std::string>());
    return s;
  } catch (const json::exception& e) {
    return bad(std::string("a malformed endpoints query reply: ") + e.what());
  }
}

ServerLink::ServerLink(LinkOptions options, PolicySink& sink)
    : options_(std::move(options)),
      sink_(sink),
      watch_client_(options_.server, options_.token),
      query_client_(options_.server, options_.token),
      status_client_(options_.server, options_.token),
      rng_(std::random_device{}()) {}

ServerLink::~ServerLink() { stop(); }

Result<ServerSnapshot> ServerLink::query(const std::vector<std::string>& apps) {
  ServerSnapshot out;
  out.revision = -1;
  std::lock_guard lock(query_mu_);
  for (size_t at = 0; at < apps.size() || at == 0; at += kQueryBatch) {
    json body = {{"apps", json::array()}};
    for (size_t i = at; i < std::min(apps.size(), at + kQueryBatch); ++i) body["apps"].push_back(apps[i]);
    if (body["apps"].empty()) {
      // Nothing followed: still learn the store id and revision (for the watch's start).
      auto res = query_client_.request("GET", "/internal/v1/status", "", 10s);
      if (!res) return res.error();
      if (res->status != 200)
        return Error{"SERVER_ERROR", "status: HTTP " + std::to_string(res->status) + " " + res->body};
      WT_TRY(j, res->json());
      if (!j->contains("store_id") || !j->contains("revision")) return bad("a status reply without store_id or revision");
      out.store_id = (*j)["store_id"].get<std::string>();
      out.revision = (*j)["revision"].get<int64_t>();
      return out;
    }
    auto res = query_client_.request("POST", "/internal/v1/endpoints/query", body.dump(), 30s);
    if (!res) return res.error();
    if (res->status != 200)
      return Error{"SERVER_ERROR",
                   "endpoints query: HTTP " + std::to_string(res->status) + " " + res->body};
    WT_TRY(j, res->json());
    WT_TRY(part, parse_snapshot(*j));
    if (!out.store_id.empty() && out.store_id != part->store_id)
      return Error{"STORE_CHANGED", "the server's store changed during a query"};
    out.store_id = part->store_id;
    out.revision = out.revision < 0 ? part->revision : std::min(out.revision, part->revision);
    for (auto& a : part->apps) out.apps.push_back(std::move(a));
    for (auto& m : part->missing) out.missing.push_back(std::move(m));
    if (apps.size() <= at + kQueryBatch) break;
  }
  for (auto& a : out.apps) a.revision = out.revision;
  return out;
}

void ServerLink::start(std::function<json()> status) {
  status_ = std::move(status);
  stopping_ = false;
  watch_thread_ = std::thread([this] { watch_loop(); });
  if (status_) heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
}

void ServerLink::stop() {
  {
    std::lock_guard lock(sleep_mu_);
    if (stopping_.exchange(true)) {
      // already stopping or stopped
    }
  }
  sleep_cv_.notify_all();
  watch_client_.cancel();
  query_client_.cancel();
  status_client_.cancel();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

bool ServerLink::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_;
}

// Full jitter (AWS style): uniform in [min, cap], cap doubling up to backoff_max, so many
// agents reconnecting to a restarted server spread out instead of arriving together.
std::chrono::milliseconds ServerLink::next_backoff() {
  backoff_ = backoff_.count() == 0 ? options_.backoff_min
                                   : std::min(options_.backoff_max, backoff_ * 2);
  std::uniform_int_distribution<int64_t> pick(options_.backoff_min.count(), backoff_.count());
  return std::chrono::milliseconds(pick(rng_));
}

Result<void> ServerLink::full_resync() {
  auto snapshot = query(sink_.followed_apps());
  if (!snapshot) return snapshot.error();
  sink_.apply(*snapshot);
  if (!store_id_.empty() && store_id_ != snapshot->store_id)
    spdlog::warn("the server's store changed ({} → {}): resynced from it", store_id_,
                 snapshot->store_id);
  store_id_ = snapshot->store_id;
  revision_ = snapshot->revision;
  ++resyncs_;
  synced_ = true;
  std::uniform_int_distribution<int64_t> jitter(800, 1200);
  next_periodic_resync_ = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(options_.resync_interval.count() * jitter(rng_));
  spdlog::info("resynced {} app(s) at revision {}", snapshot->apps.size() + snapshot->missing.size(),
               snapshot->revision);
  return Ok();
}

Result<void> ServerLink::handle_watch_reply(const json& body) {
  if (!body.is_object() || !body.contains("revision") || !body["revision"].is_number_integer() ||
      !body.contains("store_id") || !body["store_id"].is_string())
    return bad("a watch reply without revision or store_id");
  if (body.contains("tag_length") && body["tag_length"].is_number_integer() &&
      body["tag_length"].get<int>() != options_.tag_length)
    return Error{"TAG_LENGTH_MISMATCH", "the server uses tag length " +
                                            std::to_string(body["tag_length"].get<int>()) +
                                            ", this agent " + std::to_string(options_.tag_length)};
  if (body["store_id"].get<std::string>() != store_id_ ||
      (body.contains("resync") && body["resync"].is_boolean() && body["resync"].get<bool>())) {
    resync_requested_ = true;
    return Ok();
  }
  std::set<std::string> affected;
  bool all = false;
  if (body.contains("events") && body["events"].is_array()) {
    for (const json& ej : body["events"]) {
      WT_TRY(e, parse_event(ej));
      auto apps = sink_.affected_apps(*e);
      if (!apps) {
        all = true;
        break;
      }
      // An added edge is applied from the event itself; anything else is asked for.
      if (!apps->empty() && sink_.apply_change(*e)) continue;
      affected.insert(apps->begin(), apps->end());
    }
  }
  if (all) {
    resync_requested_ = true;
    return Ok();
  }
  if (!affected.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    auto snapshot = query({affected.begin(), affected.end()});
    if (!snapshot) return snapshot.error();
    if (snapshot->store_id != store_id_) {
      resync_requested_ = true;
      return Ok();
    }
    auto t1 = std::chrono::steady_clock::now();
    sink_.apply(*snapshot);
    auto t2 = std::chrono::steady_clock::now();
    spdlog::debug("revision {}: {} app(s) changed; query {} us, apply {} us",
                  body["revision"].get<int64_t>(), affected.size(),
                  std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count(),
                  std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1).count());
  }
  revision_ = body["revision"].get<int64_t>();
  return Ok();
}

void ServerLink::watch_loop() {
  while (!stopping_) {
    if (resync_requested_.exchange(false) ||
        (synced_ && std::chrono::steady_clock::now() >= next_periodic_resync_)) {
      if (auto r = full_resync(); !r) {
        resync_requested_ = true;
        connected_ = false;
        if (r.error().code == "CANCELLED") break;
        auto wait = next_backoff();
        spdlog::warn("resync: {}: {} (retry in {} ms)", r.error().code, r.error().message,
                     wait.count());
        if (!sleep_for(wait)) break;
        continue;
      }
      backoff_ = 0ms;
      connected_ = true;
    }
    std::string target = "/internal/v1/watch?since=" + std::to_string(revision_.load()) +
                         "&timeout=" + std::to_string(options_.watch_timeout.count());
    auto res = watch_client_.request("GET", target, "", options_.watch_timeout + 15s);
    Result<void> handled = Ok();
    if (!res) {
      handled = res.error();
    } else if (res->status != 200) {
      handled = Error{"SERVER_ERROR", "watch: HTTP " + std::to_string(res->status) + " " + res->body};
    } else if (auto j = res->json(); !j) {
      handled = j.error();
    } else {
      ++watch_replies_;
      handled = handle_watch_reply(*j);
    }
    if (!handled) {
      if (handled.error().code == "CANCELLED") break;
      connected_ = false;
      auto wait = next_backoff();
      spdlog::warn("watch: {}: {} (enforcement unchanged; retry in {} ms)", handled.error().code,
                   handled.error().message, wait.count());
      if (!sleep_for(wait)) break;
      continue;
    }
    connected_ = true;
    backoff_ = 0ms;
  }
}

Result<void> ServerLink::send_status(const json& status) {
  std::lock_guard lock(status_mu_);
  auto res = status_client_.request("POST", "/internal/v1/cells/" + options_.cell + "/status",
                                    status.dump(), 10s);
  if (!res) return res.error();
  if (res->status != 200)
    return Error{"SERVER_ERROR", "PDP_STATUS: HTTP " + std::to_string(res->status) + " " + res->body};
  return Ok();
}

void ServerLink::heartbeat_loop() {
  bool failing = false;
  do {
    auto r = send_status(status_());
    if (!r && r.error().code == "CANCELLED") break;
    if (!r && !failing) spdlog::warn("heartbeat: {}: {}", r.error().code, r.error().message);
    if (r && failing) spdlog::info("heartbeat: the server answers again");
    failing = !r;
  } while (sleep_for(options_.heartbeat_interval));
}

}  // namespace wiretag::agent
