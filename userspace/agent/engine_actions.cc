#include "agent/engine_actions.h"

#include <chrono>

#include "common/log.h"
#include "http/json_input.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {

json device_json(const datapath::Device& d) {
  return {{"namespace", d.netns}, {"interface_name", d.ifname}};
}

std::string label(const datapath::Device& d) {
  return d.ifname + "@" + (d.netns.empty() ? "(own netns)" : d.netns);
}

}  // namespace

Result<std::optional<datapath::Device>> action_device(const json& body, bool required) {
  if (!body.is_object()) return Error{"INVALID_BODY", "an action's body is a JSON object"};
  if (auto r = required ? http::check_fields(body, {"device"})
                        : http::check_fields(body, {}, {"device"});
      !r)
    return r.error();
  if (!body.contains("device") || body["device"].is_null()) {
    if (required) return Error{"MISSING_FIELD", "device is required"};
    return std::optional<datapath::Device>();
  }
  const json& d = body["device"];
  if (!d.is_object())
    return Error{"INVALID_FIELD_TYPE", "device must be an object {namespace, interface_name}"};
  if (auto r = http::check_fields(d, {"namespace", "interface_name"}); !r) return r.error();
  WT_TRY(netns, http::string_field(d, "namespace"));
  WT_TRY(ifname, http::string_field(d, "interface_name"));
  return std::optional<datapath::Device>(datapath::Device{*netns, *ifname});
}

void add_action_ops(CellRequests& requests, Cell& cell, ServerLink& link, datapath::Datapath& dp) {
  requests.add("resync", [&cell, &link](const json& body) -> Result<json> {
    if (auto r = http::check_fields(body, {}); !r) return r.error();
    const auto start = std::chrono::steady_clock::now();
    spdlog::info("resync asked by the server");
    cell.forget_applied();
    if (auto r = link.full_resync(); !r)
      return Error{"RESYNC_FAILED", r.error().code + ": " + r.error().message};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    return json{{"outcome", "ok"}, {"revision", link.revision()}, {"duration_ms", ms}};
  });
  requests.add("flush-flows", [&dp](const json& body) -> Result<json> {
    WT_TRY(device, action_device(body, false));
    std::optional<uint32_t> ifindex;
    if (*device) {
      ifindex = dp.ifindex_of(**device);
      if (!ifindex)
        return Error{"DEVICE_NOT_FOUND", "the datapath has no endpoint on " + label(**device)};
    }
    WT_TRY(flushed, dp.flush_flows(ifindex));
    spdlog::info("flushed {} flow(s){}", *flushed,
                 *device ? " of " + label(**device) : std::string());
    json out = {{"flushed", *flushed}};
    if (*device) out["device"] = device_json(**device);
    return out;
  });
  requests.add("reload-device", [&cell](const json& body) -> Result<json> {
    WT_TRY(device, action_device(body, true));
    WT_TRY(view, cell.reattach(**device));
    spdlog::info("reloaded the programs on {}", label(**device));
    return json{{"device", device_json(**device)}, {"reloaded", true}, {"ifindex", view->ifindex}};
  });
}

}  // namespace wiretag::agent
