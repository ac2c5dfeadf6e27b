#include "core/cell_report_codec.h"

namespace wiretag {
namespace {

using nlohmann::json;

json policies_json(const std::vector<DeployedPolicy>& policies) {
  json out = json::array();
  for (const DeployedPolicy& p : policies)
    out.push_back({{"name", p.name}, {"version", p.version}});
  return out;
}

}  // namespace

std::string encode_cell_report(const CellReport& r) {
  json failed = json::array();
  for (const FailedPolicy& f : r.failed_policies)
    failed.push_back({{"name", f.name}, {"version", f.version}, {"reason", f.reason}});
  json j = {{"name", r.name},
            {"pdp_type", r.pdp_type},
            {"pdp_group", r.pdp_group},
            {"pdp_subgroup", r.pdp_subgroup},
            {"state", r.state},
            {"healthy", r.healthy},
            {"description", r.description},
            {"deployment_instance_info", r.deployment_instance_info},
            {"policies", policies_json(r.policies)},
            {"heartbeat_interval_ms", r.heartbeat_interval_ms},
            {"failed_policies", std::move(failed)},
            {"hosted_apps", r.hosted_apps},
            {"vtep_addresses", r.vtep_addresses}};
  if (r.statistics) j["statistics"] = *r.statistics;
  if (r.properties) j["properties"] = *r.properties;
  if (r.revision) j["revision"] = *r.revision;
  if (r.datapath)
    j["datapath"] = {{"endpoints", r.datapath->endpoints},
                     {"allowed", r.datapath->allowed},
                     {"dropped", r.datapath->dropped},
                     {"audited", r.datapath->audited}};
  if (r.response)
    j["response"] = {{"response_to", r.response->response_to},
                     {"status", r.response->status},
                     {"message", r.response->message}};
  return j.dump();
}

std::optional<CellReport> decode_cell_report(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    CellReport r;
    r.name = j.at("name").get<std::string>();
    r.pdp_type = j.at("pdp_type").get<std::string>();
    r.pdp_group = j.at("pdp_group").get<std::string>();
    r.pdp_subgroup = j.at("pdp_subgroup").get<std::string>();
    r.state = j.at("state").get<std::string>();
    r.healthy = j.at("healthy").get<std::string>();
    r.description = j.at("description").get<std::string>();
    r.deployment_instance_info = j.at("deployment_instance_info").get<std::string>();
    for (const json& p : j.at("policies"))
      r.policies.push_back({p.at("name").get<std::string>(), p.at("version").get<std::string>()});
    r.heartbeat_interval_ms = j.at("heartbeat_interval_ms").get<int64_t>();
    for (const json& f : j.at("failed_policies"))
      r.failed_policies.push_back({f.at("name").get<std::string>(),
                                   f.at("version").get<std::string>(),
                                   f.at("reason").get<std::string>()});
    r.hosted_apps = j.at("hosted_apps").get<std::vector<std::string>>();
    // Rows a server before the XDP gate wrote have no VTEPs: the cell reports none.
    if (j.contains("vtep_addresses"))
      r.vtep_addresses = j["vtep_addresses"].get<std::vector<std::string>>();
    if (j.contains("statistics")) r.statistics = j["statistics"];
    if (j.contains("properties")) r.properties = j["properties"];
    if (j.contains("revision")) r.revision = j["revision"].get<int64_t>();
    if (j.contains("datapath")) {
      const json& d = j["datapath"];
      r.datapath =
          DatapathCounters{d.at("endpoints").get<int64_t>(), d.at("allowed").get<int64_t>(),
                           d.at("dropped").get<int64_t>(), d.at("audited").get<int64_t>()};
    }
    if (j.contains("response")) {
      const json& p = j["response"];
      r.response =
          PdpResponse{p.at("response_to").get<std::string>(), p.at("status").get<std::string>(),
                      p.at("message").get<std::string>()};
    }
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace wiretag
