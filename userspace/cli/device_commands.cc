// `wiretag device list|add|remove`: the devices an agent enforces on, through its Policy
// Plugin API (`--agent`: unix:PATH, its root-only socket, or http[s]://HOST:PORT with
// --plugin-tcp; SPEC §4.2). What a container runtime does on container start and stop.
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

std::string sources(const json& d) {
  std::string out = cell(d, "allowed_source_wire_bytes");
  if (d.value("allow_any_tagged_source", false)) out = out == "-" ? "*" : "*," + out;
  return out;
}

std::string synced(const json& d) {
  if (!d.contains("synced")) return "-";  // static: nothing to follow
  std::string out = d.value("synced", false) ? "yes" : "no";
  if (d.value("app_missing", false)) out += " (app missing)";
  return out;
}

Table devices_table(const json& devices) {
  Table t{{"namespace", "device", "ifindex", "app", "wire_bytes", "mode", "sources", "rules",
           "synced", "error"},
          {}};
  for (const json& d : devices) {
    const json dev = d.value("destination_device", json::object());
    std::string netns = cell(dev, "namespace");
    if (netns.empty()) netns = "(agent's)";
    t.add({netns, cell(dev, "interface_name"), cell(d, "ifindex"), cell(d, "app_guid"),
           cell(d, "wire_bytes"), cell(d, "mode"), sources(d), cell(d, "rules"), synced(d),
           cell(d, "last_error")});
  }
  return t;
}

json destination(const std::string& netns, const std::string& dev) {
  return {{"namespace", netns}, {"interface_name", dev}};
}

}  // namespace

void add_device_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "device", "list, add and remove the devices an agent enforces on (--agent; root)");
  group->require_subcommand(1);
  {
    auto* c = group->add_subcommand(
        "list", "list the agent's devices: app, own tag, mode, admitted source tags, sync");
    c->callback([] {
      json out = agent_call("GET", "/whitelist");
      show(out, [](const json& o) { return devices_table(o.value("devices", json::array())); });
    });
  }
  {
    static std::string netns, dev, app_guid, tag;
    static std::vector<std::string> allow;
    auto* c = group->add_subcommand(
        "add",
        "enforce on a device (idempotent: replaces what the agent held for it): follow an "
        "app on the server (--app), or a static whitelist (--allow), or both");
    c->add_option("--netns", netns,
                  "the device's network namespace: a netns file (/run/netns/NAME, "
                  "/proc/PID/ns/net); default: the agent's own");
    c->add_option("--dev", dev, "the interface name (the host side of a veth)")->required();
    c->add_option("--app", app_guid,
                  "follow this app: the agent learns its tag and allowed sources from the "
                  "server and keeps them in sync");
    c->add_option("--tag", tag, "the device's own tag in hex wire bytes (static; not with --app)")
        ->excludes(c->get_option("--app"));
    c->add_option("--allow", allow,
                  "source tags (hex wire bytes) admitted on any protocol and port; with --app, "
                  "besides the server's rules (repeatable, or comma-separated)")
        ->delimiter(',');
    c->callback([] {
      if (app_guid.empty() && allow.empty())
        usage_error("device add: give --app GUID, --allow HEX…, or both");
      json body = {{"destination_device", destination(netns, dev)}};
      if (!app_guid.empty()) body["app_guid"] = app_guid;
      if (!tag.empty()) body["wire_bytes"] = tag;
      if (!allow.empty()) body["allowed_source_wire_bytes"] = allow;
      json out = agent_call("POST", "/whitelist", body);
      show(out, [](const json& d) { return devices_table(json::array({d})); });
    });
  }
  {
    static std::string netns, dev;
    auto* c = group->add_subcommand(
        "remove", "stop enforcing on a device: detach the programs, forget its state");
    c->add_option("--netns", netns, "the device's network namespace (default: the agent's own)");
    c->add_option("--dev", dev, "the interface name")->required();
    c->callback([] {
      agent_call("DELETE", "/whitelist", json{{"destination_device", destination(netns, dev)}});
      std::printf("removed device %s%s%s\n", dev.c_str(), netns.empty() ? "" : " in ",
                  netns.c_str());
    });
  }
}

}  // namespace wiretag::cli
