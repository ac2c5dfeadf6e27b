#include "cli/pap_client.h"

#include "cli/api_client.h"

namespace wiretag::cli {

using nlohmann::json;

json pap_call(std::string_view method, const std::string& path, const json& body) {
  return server_call(Auth::Pap, method, "/policy/pap/v1" + path, body);
}

json PolicyArg::ref() const {
  json r = {{"name", name}};
  if (version) r["version"] = *version;
  return r;
}

PolicyArg parse_policy_arg(const std::string& arg) {
  const size_t at = arg.rfind('@');
  PolicyArg p{arg.substr(0, at), std::nullopt};
  if (p.name.empty()) usage_error("\"" + arg + "\": POLICY[@VERSION] needs a policy name");
  if (at == std::string::npos) return p;
  std::string v = arg.substr(at + 1);
  if (v.size() > 4 && v.compare(v.size() - 4, 4, ".0.0") == 0) v.resize(v.size() - 4);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos ||
      v[0] == '0')
    usage_error("\"" + arg + "\": VERSION must be N or N.0.0 (N = 1, 2, ...)");
  p.version = v + ".0.0";
  return p;
}

json find_group(const std::string& group) {
  const json pdps = pap_call("GET", "/pdps");
  for (const json& g : pdps.value("groups", json::array()))
    if (g.value("name", "") == group) return g;
  return nullptr;
}

}  // namespace wiretag::cli
