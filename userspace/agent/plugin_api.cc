#include "agent/plugin_api.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "core/app_guid.h"
#include "core/device_name.h"
#include "http/json_input.h"
#include "wiretag/error_kind.h"
#include "wiretag/version.h"

namespace wiretag::agent {

using http::Reply;
using http::Request;
using nlohmann::json;

namespace {

Result<datapath::Device> device_field(const json& body) {
  const json& d = body["destination_device"];
  if (!d.is_object())
    return Error{"INVALID_FIELD_TYPE", "destination_device must be an object"};
  if (auto r = http::check_fields(d, {"namespace", "interface_name"}); !r) return r.error();
  WT_TRY(netns, http::string_field(d, "namespace"));
  WT_TRY(ifname, http::string_field(d, "interface_name"));
  if (auto r = check_device_name(*netns, *ifname); !r) return r.error();
  return datapath::Device{*netns, *ifname};
}

Result<uint32_t> tag_field(const TagSpace& tags, const json& v, const std::string& what) {
  if (!v.is_string()) return Error{"INVALID_FIELD_TYPE", what + " must be a string"};
  auto tag = tags.parse(v.get<std::string>());
  if (!tag)
    return Error{"INVALID_WIRE_BYTES", what + " \"" + v.get<std::string>() + "\" is not " +
                                           std::to_string(2 * tags.length()) +
                                           " lowercase hex digits"};
  if (*tag == 0) return Error{"INVALID_WIRE_BYTES", what + ": tag 0 means untagged"};
  return *tag;
}

// allowed_source_wire_bytes: tags of 2*tag_length hex digits, none of them 0.
Result<std::vector<uint32_t>> source_list(const TagSpace& tags, const json& list) {
  if (!list.is_array())
    return Error{"INVALID_FIELD_TYPE", "allowed_source_wire_bytes must be an array of strings"};
  if (list.size() > 65536)
    return Error{"INVALID_FIELD_VALUE", "allowed_source_wire_bytes holds more than 65536 tags"};
  std::vector<uint32_t> sources;
  for (const json& v : list) {
    WT_TRY(tag, tag_field(tags, v, "allowed_source_wire_bytes entry"));
    sources.push_back(*tag);
  }
  return sources;
}

// What the PAP asked of this cell and what it holds (docs/agent.md).
json pdp_json(const PdpView& v, std::optional<datapath::Mode> mode) {
  json j = {{"policies", to_json(v.held)}, {"failedPolicies", to_json(v.failed)}};
  if (mode) j["mode"] = datapath::mode_name(static_cast<uint8_t>(*mode));  // as applied
  if (v.assignment) {
    j["group"] = v.assignment->group;
    j["subgroup"] = v.assignment->subgroup;
    j["state"] = v.assignment->locked ? "SAFE" : v.assignment->state;  // as PDP_STATUS says
    j["locked"] = v.assignment->locked;
    j["deployed"] = to_json(v.assignment->policies);
  }
  return j;
}

json device_json(const DeviceView& v, const TagSpace& tags) {
  json j = {{"destination_device",
             {{"namespace", v.record.device.netns}, {"interface_name", v.record.device.ifname}}},
            {"ifindex", v.ifindex},
            {"wire_bytes", v.tag ? json(tags.wire_bytes(v.tag)) : json(nullptr)},
            {"rules", v.rules}};
  if (v.mode) j["mode"] = datapath::mode_name(static_cast<uint8_t>(*v.mode));
  json sources = json::array();
  bool any = false;
  for (uint32_t s : v.sources) {
    if (s == 0)
      any = true;
    else
      sources.push_back(tags.wire_bytes(s));
  }
  j["allowed_source_wire_bytes"] = sources;
  if (any) j["allow_any_tagged_source"] = true;
  if (v.record.app_guid) {
    j["app_guid"] = *v.record.app_guid;
    json extra = json::array();
    for (uint32_t s : v.record.static_sources) extra.push_back(tags.wire_bytes(s));
    j["static_source_wire_bytes"] = extra;  // admitted besides the server's rules
    j["synced"] = v.synced;
    j["revision"] = v.revision;
    if (v.app_missing) j["app_missing"] = true;
  }
  if (!v.last_error.empty()) j["last_error"] = v.last_error;
  return j;
}

class PluginApi {
 public:
  PluginApi(Cell& cell, ServerLink& link) : cell_(cell), link_(link) {}

  // POST /whitelist {"destination_device":{…}, "allowed_source_wire_bytes":[…]
  //                  [, "wire_bytes"] [, "app_guid"]}
  Result<Reply> put(const Request& req) {
    WT_TRY(body, http::parse_json_object(req.body));
    if (auto r = http::check_fields(*body, {"destination_device"},
                                    {"allowed_source_wire_bytes", "wire_bytes", "app_guid"});
        !r)
      return r.error();
    WT_TRY(device, device_field(*body));
    const bool has_static = body->contains("allowed_source_wire_bytes");
    const bool has_app = body->contains("app_guid");
    if (!has_static && !has_app)
      return Error{"MISSING_FIELD",
                   "give allowed_source_wire_bytes (a static whitelist), app_guid (follow the "
                   "server), or both (the seed's shape plus app_guid: extra sources)"};
    std::vector<uint32_t> sources;
    if (has_static) {
      WT_TRY(list, source_list(cell_.tags(), (*body)["allowed_source_wire_bytes"]));
      sources = std::move(*list);
    }
    if (has_app) {
      if (body->contains("wire_bytes"))
        return Error{"INVALID_FIELD_COMBINATION",
                     "wire_bytes comes from the server when app_guid is given"};
      WT_TRY(guid, http::string_field(*body, "app_guid"));
      if (auto r = check_app_guid(*guid, "app_guid"); !r) return r.error();
      return follow(*device, *guid, std::move(sources));
    }
    uint32_t own = 0;
    if (body->contains("wire_bytes")) {
      WT_TRY(tag, tag_field(cell_.tags(), (*body)["wire_bytes"], "wire_bytes"));
      own = *tag;
    }
    WT_TRY(view, cell_.put_static(*device, own, std::move(sources)));
    return Reply{200, device_json(*view, cell_.tags())};
  }

  // GET /whitelist → {"devices":[…]}
  Result<Reply> list(const Request&) {
    json devices = json::array();
    for (const DeviceView& v : cell_.list()) devices.push_back(device_json(v, cell_.tags()));
    return Reply{200, json{{"devices", devices}}};
  }

  // DELETE /whitelist {"destination_device":{…}}
  Result<Reply> remove(const Request& req) {
    WT_TRY(body, http::parse_json_object(req.body));
    if (auto r = http::check_fields(*body, {"destination_device"}); !r) return r.error();
    WT_TRY(device, device_field(*body));
    if (auto r = cell_.remove(*device); !r) return r.error();
    link_.status_changed();
    return Reply{200, json{{"status", "success"}}};
  }

  // GET /healthz
  Result<Reply> health(const Request&) {
    PdpView pdp = link_.pdp();
    const bool locked = pdp.assignment && pdp.assignment->locked;
    const bool healthy = link_.synced() && link_.connected() && !locked;
    CellStats s = cell_.stats();
    json body = {{"status", healthy ? "ok" : "degraded"},
                 {"synced", link_.synced()},
                 {"connected", link_.connected()},
                 {"revision", link_.revision()},
                 {"endpoints", s.endpoints},
                 {"pdp", pdp_json(pdp, cell_.mode())},
                 {"version", std::string(kVersion)}};
    if (locked) body["reason"] = lock_reason(*pdp.assignment);
    return Reply{healthy ? 200u : 503u, body};
  }

 private:
  Result<Reply> follow(const datapath::Device& device, const std::string& guid,
                       std::vector<uint32_t> extra_sources) {
    // Registered as followed before asking, so a change committed meanwhile is not missed.
    cell_.begin_follow(guid);
    struct End {
      Cell& c;
      const std::string& g;
      ~End() { c.end_follow(g); }
    } end{cell_, guid};
    auto snapshot = link_.query({guid});
    if (!snapshot) {
      if (is(snapshot.error(), ErrorKind::Upstream))
        return Error{"UPSTREAM_ERROR", snapshot.error().message};
      return Error{"UNAVAILABLE", "the policy server cannot be reached (" +
                                      snapshot.error().message + "); nothing was changed"};
    }
    if (snapshot->apps.empty())
      return Error{"APP_NOT_FOUND", "the server knows no app " + guid};
    const bool hold = snapshot->assignment && frozen(*snapshot->assignment);
    WT_TRY(view,
           cell_.put_followed(device, snapshot->apps.front(), std::move(extra_sources), hold));
    link_.status_changed();  // PDP_STATUS hostedApps: the server learns where the app is
    return Reply{200, device_json(*view, cell_.tags())};
  }

  Cell& cell_;
  ServerLink& link_;
};

}  // namespace

void add_plugin_routes(http::Router& router, Cell& cell, ServerLink& link, bool plugin) {
  auto api = std::make_shared<PluginApi>(cell, link);
  auto bind = [api](Result<Reply> (PluginApi::*fn)(const Request&)) {
    return [api, fn](const Request& req) { return ((*api).*fn)(req); };
  };
  router.get("/healthz", bind(&PluginApi::health));
  if (!plugin) return;
  router.post("/whitelist", bind(&PluginApi::put))
      .get("/whitelist", bind(&PluginApi::list))
      .del("/whitelist", bind(&PluginApi::remove));
}

void add_trace_route(http::Router& router, const TraceService& traces) {
  router.post("/v1/trace", [&traces](const Request& req) -> Result<Reply> {
    WT_TRY(body, http::parse_json_object(req.body));
    WT_TRY(answer, traces.trace(*body));
    return Reply{200, std::move(*answer)};
  });
}

}  // namespace wiretag::agent
