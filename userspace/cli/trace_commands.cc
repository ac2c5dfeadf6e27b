// `wiretag trace --from A --to B [--proto P] [--port N] [--ipv6] [--reply]`: what the
// destination's cell decides for one packet, from its real enforce program (and for --reply
// the destination's stamp first) on a synthesized packet against its live maps, changing no
// state live traffic uses (docs/datapath.md "Trace"). Through the server (default: it
// forwards to the cell hosting the destination), an agent (--agent: its POST /v1/trace), or
// this host's pinned datapath directly (--local, as root).
#include <bpf/bpf.h>

#include <cstring>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "datapath/trace.h"
#include "wiretag/error_kind.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

struct TraceArgs {
  std::string from, to;          // app guids (or "*"); with --local hex tags
  std::string from_tag;          // the source's tag in hex
  std::string from_dev, to_dev;  // devices: --to-dev also with --agent
  std::string from_netns, netns;
  std::string proto = "tcp";
  int port = -1;
  bool ipv6 = false, reply = false, local = false;
};

std::optional<uint32_t> parse_hex_tag(const std::string& text, unsigned tag_length) {
  if (text.size() != 2 * tag_length) return std::nullopt;
  uint32_t tag = 0;
  for (char c : text) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    tag = tag << 4 | static_cast<uint32_t>(v);
  }
  return tag;
}

// The ifindex of a device recorded in the pinned `devices` map.
std::optional<uint32_t> device_ifindex(const datapath::LiveMaps& maps, const std::string& netns,
                                       const std::string& ifname) {
  if (maps.devices < 0) return std::nullopt;
  uint32_t key = 0, next = 0;
  uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(maps.devices, prev, &next) == 0) {
    wt_device d{};
    if (bpf_map_lookup_elem(maps.devices, &next, &d) == 0 &&
        std::string(d.ifname, strnlen(d.ifname, sizeof d.ifname)) == ifname &&
        std::string(d.netns, strnlen(d.netns, sizeof d.netns)) == netns)
      return next;
    key = next;
    prev = &key;
  }
  return std::nullopt;
}

// Endpoints by their own tag (the first one found), and every endpoint's source tags.
std::optional<uint32_t> endpoint_with_tag(const datapath::LiveMaps& maps, uint32_t tag) {
  uint32_t key = 0, next = 0;
  uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(maps.endpoints, prev, &next) == 0) {
    wt_endpoint ep{};
    if (bpf_map_lookup_elem(maps.endpoints, &next, &ep) == 0 && ep.tag == tag) return next;
    key = next;
    prev = &key;
  }
  return std::nullopt;
}

// For --from '*': a tag no rule of the endpoint names, so only "*" rules can admit it.
uint32_t wildcard_tag(const datapath::LiveMaps& maps, uint32_t ifindex, unsigned tag_length) {
  std::vector<bool> named(size_t{1} << std::min(8 * tag_length, 20u));
  wt_src_key k{}, next{};
  wt_src_key* prev = nullptr;
  while (bpf_map_get_next_key(maps.src_policy, prev, &next) == 0) {
    if (next.ifindex == ifindex && next.src_tag < named.size()) named[next.src_tag] = true;
    k = next;
    prev = &k;
  }
  wt_port_key pk{}, pnext{};
  wt_port_key* pprev = nullptr;
  while (bpf_map_get_next_key(maps.port_policy, pprev, &pnext) == 0) {
    if (pnext.ifindex == ifindex && pnext.src_tag < named.size()) named[pnext.src_tag] = true;
    pk = pnext;
    pprev = &pk;
  }
  for (size_t tag = named.size() - 1; tag > 0; --tag)
    if (!named[tag]) return static_cast<uint32_t>(tag);
  return static_cast<uint32_t>(named.size() - 1);
}

std::string rule_cell(const json& j) {
  if (!j.contains("rule") || !j["rule"].is_object()) return "-";
  const json& r = j["rule"];
  std::string out = cell(r, "source") + " " + cell(r, "protocol");
  if (r.contains("ports"))
    out += " " + cell(r["ports"], "start") + "-" + cell(r["ports"], "end") + "/" +
           cell(r, "prefix_length");
  if (r.contains("range"))
    out += " of " + cell(r["range"], "start") + "-" + cell(r["range"], "end");
  return out;
}

Table trace_table(const json& j) {
  const json& ep = j.value("endpoint", json::object());
  std::string endpoint = "#" + cell(ep, "ifindex") + " " + cell(ep, "wire_bytes");
  if (ep.contains("device")) endpoint = cell(ep["device"], "interface_name") + " " + endpoint;
  if (ep.contains("app_guid")) endpoint = cell(ep, "app_guid") + " " + endpoint;
  std::string verdict = cell(j, "verdict");
  if (j.contains("stamp")) verdict += " (stamp: " + cell(j["stamp"], "reason") + ")";
  Table t{{"verdict", "reason", "mode", "rule", "endpoint", "cell"}, {}};
  t.add({verdict, cell(j, "reason"), cell(j, "mode"), rule_cell(j), endpoint,
         j.contains("cell") ? cell(j, "cell") : std::string("(local)")});
  return t;
}

json run_local(const TraceArgs& a, const datapath::Options& options, Protocol protocol) {
  auto maps = datapath::LiveMaps::pinned(options.pin_dir, options.tag_length);
  if (!maps) api_error(maps.error());
  const unsigned len = options.tag_length;
  const std::string hex = std::to_string(2 * len) + " hex digits";
  datapath::TraceRequest req;
  req.netns = a.netns;
  if (!a.to_dev.empty()) {
    auto ifindex = device_ifindex(*maps, a.netns, a.to_dev);
    if (!ifindex)
      api_error(Error{"ENDPOINT_NOT_FOUND", "no endpoint on " + a.to_dev + " in " +
                                                (a.netns.empty() ? "this netns" : a.netns)});
    req.ifindex = *ifindex;
  } else {
    auto tag = parse_hex_tag(a.to, len);
    if (!tag)
      usage_error("trace --local: --to is an endpoint's tag (" + hex + "), or give --to-dev");
    auto ifindex = endpoint_with_tag(*maps, *tag);
    if (!ifindex)
      api_error(Error{"ENDPOINT_NOT_FOUND", "no endpoint with tag " + a.to + " on this host"});
    req.ifindex = *ifindex;
  }
  wt_device dev{};  // the destination's device: its namespace is where the trace runs
  const bool named =
      maps->devices >= 0 && bpf_map_lookup_elem(maps->devices, &req.ifindex, &dev) == 0;
  if (named) req.netns = std::string(dev.netns, strnlen(dev.netns, sizeof dev.netns));
  const std::string from = a.from_tag.empty() ? a.from : a.from_tag;
  if (!a.from_dev.empty()) {
    auto ifindex = device_ifindex(*maps, a.from_netns, a.from_dev);
    wt_endpoint ep{};
    if (!ifindex || bpf_map_lookup_elem(maps->endpoints, &*ifindex, &ep) != 0)
      api_error(Error{"ENDPOINT_NOT_FOUND", "no endpoint on " + a.from_dev});
    req.source_tag = ep.tag;
  } else if (from == "*") {
    req.source_tag = wildcard_tag(*maps, req.ifindex, len);
  } else if (!from.empty() && from != "untagged") {
    auto tag = parse_hex_tag(from, len);
    if (!tag)
      usage_error("trace --local: --from is a tag (" + hex +
                  "), '*' or 'untagged'; or give --from-dev");
    req.source_tag = *tag;
  }
  req.protocol = protocol;
  req.port = static_cast<uint16_t>(a.port < 0 ? 0 : a.port);
  req.ipv6 = a.ipv6;
  req.reply = a.reply;
  auto result = datapath::trace(*maps, req);
  if (!result) {
    if (is(result.error(), ErrorKind::InvalidTrace))
      usage_error("trace: " + result.error().message);
    api_error(result.error());
  }
  json j = datapath::trace_json(*result, len);
  if (named)
    j["endpoint"]["device"] = {
        {"namespace", req.netns},
        {"interface_name", std::string(dev.ifname, strnlen(dev.ifname, sizeof dev.ifname))}};
  j["source"] = {{"wire_bytes", req.source_tag ? json(datapath::wire_bytes(req.source_tag, len))
                                               : json(nullptr)}};
  return j;
}

// The body of POST /v1/trace, for the server and for an agent.
json request_body(const TraceArgs& a) {
  json body = {{"protocol", a.proto}};
  if (!a.to_dev.empty())
    body["destination_device"] = {{"namespace", a.netns}, {"interface_name", a.to_dev}};
  if (!a.to.empty()) body["destination"] = a.to;
  if (!a.from.empty() && a.from != "untagged") body["source"] = a.from;
  if (!a.from_tag.empty()) body["source_tag"] = a.from_tag;
  if (a.port >= 0) body["port"] = a.port;
  if (a.ipv6) body["ipv6"] = true;
  if (a.reply) body["reply"] = true;
  return body;
}

}  // namespace

void add_trace_commands(CLI::App& app, datapath::Options& options) {
  static TraceArgs a;
  auto* c = app.add_subcommand(
      "trace",
      "what the destination's cell decides for one packet: its real programs on its live maps, "
      "changing nothing (through the server; --agent given: an agent; --local: this host)");
  c->add_option("--from", a.from,
                "the source app's guid, '*' (any tagged source) or 'untagged' (the default); "
                "with --local a tag in hex");
  c->add_option("--from-tag", a.from_tag,
                "the source's tag in hex, instead of the cell resolving --from");
  c->add_option("--to", a.to, "the destination app's guid; with --local an endpoint's tag in hex");
  c->add_option("--to-dev", a.to_dev, "the destination's host-side device (--local, --agent)");
  c->add_option("--netns", a.netns,
                "network namespace file of --to-dev (default: the agent's or this one)");
  c->add_option("--from-dev", a.from_dev, "--local: the source's device (its tag is used)");
  c->add_option("--from-netns", a.from_netns, "--local: network namespace file of --from-dev");
  c->add_option("--proto", a.proto, "tcp | udp | icmp")->capture_default_str();
  c->add_option("--port", a.port, "destination port (tcp, udp)")->check(CLI::Range(1, 65535));
  c->add_flag("--ipv6", a.ipv6, "an IPv6 packet (default IPv4)");
  c->add_flag("--reply", a.reply,
              "the answer to a connection the destination opened to the source's --port");
  c->add_flag("--local", a.local, "run it on this host's pinned datapath directly (root)");
  c->callback([c, &options] {
    if (a.to.empty() && a.to_dev.empty()) usage_error("trace: give --to (or --to-dev)");
    auto protocol = parse_protocol(a.proto);
    if (!protocol || *protocol == Protocol::Any) usage_error("trace: --proto is tcp, udp or icmp");
    if (*protocol == Protocol::Icmp && a.port >= 0) usage_error("trace: icmp has no --port");
    if (*protocol != Protocol::Icmp && a.port < 0) usage_error("trace: tcp and udp need --port");
    json out;
    if (a.local) {
      out = run_local(a, options, *protocol);
    } else if (c->get_parent()->get_option("--agent")->count() > 0) {
      out = agent_call("POST", "/v1/trace", request_body(a));
    } else {
      if (!a.to_dev.empty())
        usage_error("trace: --to-dev needs --local or --agent; the server takes --to APP");
      out = server_call(Auth::Bearer, "POST", "/v1/trace", request_body(a));
    }
    show(out, trace_table);
  });
}

}  // namespace wiretag::cli
