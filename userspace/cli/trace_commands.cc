#include "cli/trace_commands.h"

#include <bpf/bpf.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "datapath/trace.h"

namespace wiretag::cli {
namespace {

struct TraceArgs {
  std::string from, to;          // hex tags ("*" for any tagged source), or app guids
  std::string from_dev, to_dev;  // --local: devices of this host
  std::string from_netns, netns;
  std::string proto = "tcp";
  uint16_t port = 0;
  bool ipv6 = false, reply = false, local = false;
  std::string output = "table";
};

[[noreturn]] void fail(const Error& e, int status = 1) {
  std::fprintf(stderr, "wiretag: %s: %s\n", e.code.c_str(), e.message.c_str());
  std::exit(status);
}

[[noreturn]] void usage(const std::string& message) { fail(Error{"USAGE", message}, 2); }

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

void print_table(const nlohmann::json& j) {
  auto text = [](const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("-") : v.dump();
  };
  std::cout << "verdict   " << text(j["verdict"]) << "\n";
  std::cout << "reason    " << text(j["reason"]) << "\n";
  std::cout << "mode      " << text(j["mode"]) << "\n";
  std::string rule = "-";
  if (j["rule"].is_object()) {
    const auto& r = j["rule"];
    rule = text(r["source"]) + " " + text(r["protocol"]);
    if (r.contains("ports"))
      rule += " " + text(r["ports"]["start"]) + "-" + text(r["ports"]["end"]) + " (/" +
              text(r["prefix_length"]) + ")";
    if (r.contains("range"))
      rule += " of " + text(r["range"]["start"]) + "-" + text(r["range"]["end"]);
  }
  std::cout << "rule      " << rule << "\n";
  const auto& ep = j["endpoint"];
  std::cout << "endpoint  ifindex " << text(ep["ifindex"]) << ", tag " << text(ep["wire_bytes"]);
  if (ep.contains("device"))
    std::cout << ", " << text(ep["device"]["interface_name"]) << "@"
              << (ep["device"]["namespace"] == "" ? "(own netns)"
                                                  : text(ep["device"]["namespace"]));
  std::cout << "\n";
  const auto& p = j["packet"];
  std::cout << "packet    " << text(p["source"]);
  if (p.contains("source_port")) std::cout << ":" << text(p["source_port"]);
  std::cout << " -> " << text(p["destination"]);
  if (p.contains("destination_port")) std::cout << ":" << text(p["destination_port"]);
  std::cout << "\n";
  if (j.contains("stamp"))
    std::cout << "stamp     " << text(j["stamp"]["reason"]) << " (" << text(j["stamp"]["verdict"])
              << ")\n";
}

void run_local(const TraceArgs& a, const datapath::Options& options) {
  auto maps = datapath::LiveMaps::pinned(options.pin_dir, options.tag_length);
  if (!maps) fail(maps.error());
  const unsigned len = options.tag_length;
  datapath::TraceRequest req;
  req.netns = a.netns;
  if (!a.to_dev.empty()) {
    auto ifindex = device_ifindex(*maps, a.netns, a.to_dev);
    if (!ifindex)
      fail(Error{"ENDPOINT_NOT_FOUND", "no endpoint on " + a.to_dev + " in " +
                                           (a.netns.empty() ? "this netns" : a.netns)});
    req.ifindex = *ifindex;
  } else {
    auto tag = parse_hex_tag(a.to, len);
    if (!tag)
      usage("--to is an endpoint's tag (" + std::to_string(2 * len) +
            " hex digits) with --local; or give --to-dev");
    auto ifindex = endpoint_with_tag(*maps, *tag);
    if (!ifindex)
      fail(Error{"ENDPOINT_NOT_FOUND", "no endpoint with tag " + a.to + " on this host"});
    req.ifindex = *ifindex;
    wt_device d{};  // its namespace, to run the trace there
    if (maps->devices >= 0 && bpf_map_lookup_elem(maps->devices, &*ifindex, &d) == 0)
      req.netns = std::string(d.netns, strnlen(d.netns, sizeof d.netns));
  }
  if (!a.from_dev.empty()) {
    auto ifindex = device_ifindex(*maps, a.from_netns, a.from_dev);
    wt_endpoint ep{};
    if (!ifindex || bpf_map_lookup_elem(maps->endpoints, &*ifindex, &ep) != 0)
      fail(Error{"ENDPOINT_NOT_FOUND", "no endpoint on " + a.from_dev});
    req.source_tag = ep.tag;
  } else if (a.from == "*") {
    req.source_tag = wildcard_tag(*maps, req.ifindex, len);
  } else if (!a.from.empty() && a.from != "untagged") {
    auto tag = parse_hex_tag(a.from, len);
    if (!tag)
      usage("--from is a tag (" + std::to_string(2 * len) +
            " hex digits), '*' or 'untagged' with --local; or give --from-dev");
    req.source_tag = *tag;
  }
  auto proto = parse_protocol(a.proto);
  if (!proto || *proto == Protocol::Any) usage("--proto is tcp, udp or icmp");
  req.protocol = *proto;
  req.port = a.port;
  req.ipv6 = a.ipv6;
  req.reply = a.reply;
  auto result = datapath::trace(*maps, req);
  if (!result) fail(result.error(), result.error().code == "INVALID_TRACE" ? 2 : 1);
  nlohmann::json j = datapath::trace_json(*result, len);
  j["source"] = {{"wire_bytes", req.source_tag
                                    ? nlohmann::json(datapath::wire_bytes(req.source_tag, len))
                                    : nlohmann::json(nullptr)}};
  if (a.output == "json")
    std::cout << j.dump(2) << "\n";
  else
    print_table(j);
}

}  // namespace

void add_trace_command(CLI::App& app, datapath::Options& options) {
  auto args = std::make_shared<TraceArgs>();
  auto* c = app.add_subcommand(
      "trace",
      "what the destination's cell decides for a packet from --from to --to: its real enforce "
      "program (and for --reply the destination's stamp first) run on a synthesized packet "
      "against its live maps, without changing any state live traffic uses");
  c->add_option("--from", args->from,
                "the source: a tag in hex with --local, '*' (any tagged source) or 'untagged'");
  c->add_option("--to", args->to, "the destination endpoint: its tag in hex with --local");
  c->add_option("--to-dev", args->to_dev, "--local: the destination's host-side device");
  c->add_option("--netns", args->netns, "--local: network namespace file of --to-dev");
  c->add_option("--from-dev", args->from_dev, "--local: the source's device (its tag is used)");
  c->add_option("--from-netns", args->from_netns, "--local: network namespace file of --from-dev");
  c->add_option("--proto", args->proto, "tcp | udp | icmp")->capture_default_str();
  c->add_option("--port", args->port, "destination port (tcp, udp)");
  c->add_flag("--ipv6", args->ipv6, "an IPv6 packet (default IPv4)");
  c->add_flag("--reply", args->reply,
              "the answer to a connection the destination opened to the source's --port");
  c->add_flag(
      "--local", args->local,
      "run it on this host's pinned datapath directly (root), not through an agent or server");
  c->add_option("-o,--output", args->output, "table | json")->capture_default_str();
  c->callback([args, &options] {
    if (args->output != "table" && args->output != "json") usage("-o is table or json");
    if (args->to.empty() && args->to_dev.empty()) usage("give --to (or --to-dev with --local)");
    if (!args->local) usage("only --local is available in this build");
    run_local(*args, options);
  });
}

}  // namespace wiretag::cli
