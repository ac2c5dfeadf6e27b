#include "server/events_api.h"

#include <set>

#include "common/log.h"
#include "core/app_guid.h"
#include "http/json_input.h"

namespace wiretag {

using http::Reply;
using http::Request;
using nlohmann::json;

namespace {

constexpr size_t kMaxTagsPerQuery = 1000;
constexpr size_t kMaxEventsPerPush = 1000;

Result<std::string> cell_param(const Request& req) {
  std::string cell = req.param("name");
  if (!is_valid_app_guid(cell))
    return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
  return cell;
}

}  // namespace

ServerEvents::ServerEvents(std::chrono::seconds heartbeat) : heartbeat_(heartbeat) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, heartbeat_, [this] { return stopping_; })) {
      lock.unlock();
      fanout_.heartbeat();
      lock.lock();
    }
  });
}

ServerEvents::~ServerEvents() { stop(); }

void ServerEvents::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void add_event_internal_routes(http::Router& router, ServerEvents& events, Store& store,
                               const PolicyGraph& graph, Authenticator& auth) {
  // {"events":[line, …]}: a cell's event lines (drop, audit, lost), relayed to the readers
  // with the cell's name. → {"accepted": n, "readers": k}
  router.post(
      "/internal/v1/cells/:name/events", [&events, &auth](const Request& req) -> Result<Reply> {
        WT_TRY(who, auth.authenticate_internal(req));
        WT_TRY(cell, cell_param(req));
        if (auto r = who->may_act_as_cell(*cell); !r) return r.error();
        WT_TRY(body, http::parse_json_object(req.body));
        if (auto r = http::check_fields(*body, {"events"}); !r) return r.error();
        const json& lines = (*body)["events"];
        if (!lines.is_array() || lines.size() > kMaxEventsPerPush)
          return Error{"INVALID_FIELD_TYPE", "events is an array of at most 1000 lines"};
        size_t accepted = 0;
        for (const json& line : lines) {
          if (line.is_object() && line.value("type", "") == "lost") {
            const json count = line.value("count", json());
            if (!count.is_number_unsigned())
              return Error{"INVALID_EVENT", "a lost line counts events"};
            events.fanout().publish_lost(count.get<uint64_t>(), line.value("cause", "unknown"),
                                         *cell);
            ++accepted;
            continue;
          }
          WT_TRY(e, events::event_from_json(line));
          e->cell = *cell;  // what the cell is, not what it says
          events.fanout().publish(*e);
          ++accepted;
        }
        return Reply{200, json{{"accepted", accepted}, {"readers", events.fanout().readers()}}};
      });

  // {"tags":[n, …]} → {"apps":[{"tag","wire_bytes","guid","account"}],"missing":[n, …]}
  router.post("/internal/v1/tags/query",
              [&store, &graph, &auth](const Request& req) -> Result<Reply> {
                WT_TRY(who, auth.authenticate_internal(req));
                WT_TRY(body, http::parse_json_object(req.body));
                if (auto r = http::check_fields(*body, {"tags"}); !r) return r.error();
                const json& tags = (*body)["tags"];
                if (!tags.is_array() || tags.empty() || tags.size() > kMaxTagsPerQuery)
                  return Error{"INVALID_FIELD_TYPE", "tags is an array of 1-1000 tags"};
                std::vector<uint32_t> asked;
                for (const json& t : tags) {
                  if (!t.is_number_unsigned() || t.get<uint64_t>() == 0 ||
                      t.get<uint64_t>() > graph.tags().max_tag())
                    return Error{"INVALID_TAG",
                                 "a tag is an integer 1-" + std::to_string(graph.tags().max_tag())};
                  asked.push_back(t.get<uint32_t>());
                }
                WT_TRY(found, store.read<std::vector<AppRecord>>(
                                  [&](StoreTx& tx) -> Result<std::vector<AppRecord>> {
                                    std::vector<AppRecord> out;
                                    std::set<uint32_t> seen;
                                    for (uint32_t tag : asked) {
                                      if (!seen.insert(tag).second) continue;
                                      WT_TRY(app, tx.find_app_by_tag(tag));
                                      if (*app) out.push_back(**app);
                                    }
                                    return out;
                                  }));
                json apps = json::array(), missing = json::array();
                std::set<uint32_t> known;
                for (const AppRecord& a : *found) {
                  known.insert(a.tag);
                  apps.push_back({{"tag", a.tag},
                                  {"wire_bytes", graph.tags().wire_bytes(a.tag)},
                                  {"guid", a.guid},
                                  {"account", a.account}});
                }
                for (uint32_t t : asked)
                  if (!known.count(t)) missing.push_back(t);
                return Reply{200, json{{"apps", std::move(apps)}, {"missing", std::move(missing)}}};
              });
}

void add_event_routes(http::Router& router, ServerEvents& events, Authenticator& auth) {
  router.get("/v1/events", [&events, &auth](const Request& req) -> Result<Reply> {
    WT_TRY(who, auth.authenticate(req));
    WT_TRY(filter, events::parse_event_filter(req.query, true));
    if (!who->admin) filter->accounts.emplace(who->accounts.begin(), who->accounts.end());
    auto lines = std::make_shared<http::LineStream>(events::kReaderBudgetBytes * 2);
    lines->push(
        std::make_shared<const std::string>(events::heartbeat_json(events::unix_now_ns()).dump()));
    events.fanout().subscribe(std::move(*filter), std::make_shared<events::StreamSink>(
                                                      lines, events::kReaderBudgetBytes));
    Reply reply{200, nullptr};
    reply.headers.emplace_back("Content-Type", "application/x-ndjson");
    reply.lines = std::move(lines);
    return reply;
  });
  router.admit({"/v1/events"},
               [&auth](const Request& q) { return auth.authenticate(q.authorization); });
}

}  // namespace wiretag
