#!/usr/bin/env python3
"""`wiretag maps dump -o json` against `bpftool map dump pinned ... -j` of the same maps.

usage: maps_dump_check.py PIN_DIR WIRETAG

bpftool decodes each map with the BTF the programs carry ("formatted": field names from
abi.h); wiretag decodes with its own C++ structs. bpftool dumps every map before and after
wiretag's dump: each bpftool entry (arrays: each non-zero one) must be one wiretag row with
equal values, and nothing more. Counters and last-seen times move with background traffic
(neighbour discovery): for those, before <= wiretag <= after, and rows may appear between.
"""
import ipaddress
import json
import os
import subprocess
import sys

pin_dir, wiretag = sys.argv[1:3]
failures = []
MOVING = {"packets", "bytes", "last_seen_ns"}
REASONS = ["stamped", "allow_reply", "allow_rule", "allow_wildcard", "allow_untagged",
           "allow_bypass", "allow_arp", "allow_ndp", "allow_fragment", "drop_policy",
           "drop_untagged", "drop_no_endpoint", "drop_l2_truncated", "drop_l3_unknown",
           "drop_l3_truncated", "drop_ipv4_ihl", "drop_ipv6_version", "drop_exthdr_limit",
           "drop_exthdr_bad", "drop_l4_truncated", "drop_tcp_doff", "drop_fragment",
           "drop_spoofed"]
PASS_REASONS = REASONS.index("drop_policy")
SLOT_COLUMNS = PASS_REASONS + (len(REASONS) - PASS_REASONS) * 2
MODES = ["enforce", "audit", "bypass"]
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 0: "-"}
FLAGS = [(1, "antispoof_v4"), (2, "antispoof_v6"), (4, "has_src_policy"),
         (8, "has_wildcard_ports"), (16, "has_wildcard_src")]


DUMPED = ["endpoints", "devices", "src_policy", "port_policy", "flows", "counters",
          "slot_counters", "endpoint_index", "rule_epochs"]


def bpftool_dump(name):
    out = subprocess.run(["bpftool", "map", "dump", "pinned", f"{pin_dir}/{name}", "-j"],
                         check=True, capture_output=True, text=True).stdout
    entries = json.loads(out)
    for e in entries:
        if "formatted" not in e:
            sys.exit(f"bpftool printed no BTF-formatted entries for {name}")
    return [e["formatted"] for e in entries]


def wiretag_json(*args):
    return json.loads(subprocess.run([wiretag, "--pin-dir", pin_dir, *args, "-o", "json"],
                                     check=True, capture_output=True, text=True).stdout)


before = {name: bpftool_dump(name) for name in DUMPED}
dump = wiretag_json("maps", "dump")
listing = wiretag_json("maps", "list")
after = {name: bpftool_dump(name) for name in DUMPED}
phase = "after"


def bpftool(name):
    return (before if phase == "before" else after)[name]


def text(v):  # a char array as bpftool formats it
    if isinstance(v, str):
        return v
    return bytes(b for b in v if b).decode()


def ip(family, raw):
    b = bytes(raw)
    return str(ipaddress.ip_address(b[:4] if family == 4 else b))


def ntohs(v):
    return ((v & 0xff) << 8) | (v >> 8)


def flags(f):
    return [name for bit, name in FLAGS if f & bit]


def bits(word):
    return [b for b in range(32) if word & (1 << b)]


def tag(t):
    return format(t, "04x")  # tag_length 2


def source(t):
    return "*" if t == 0 else tag(t)


def summed(values):
    return (sum(v["value"]["packets"] for v in values), sum(v["value"]["bytes"] for v in values))


def compare(name, build, key_fields, required=True):
    """build() -> the rows bpftool's dump (of the current phase) says wiretag must show."""
    global phase
    rows = dump.get(name)
    if rows is None:
        failures.append(f"{name}: not in wiretag's dump")
        return
    def key(row):
        return tuple(row[k] for k in key_fields)
    got = {key(r): r for r in rows}
    if len(got) != len(rows):
        failures.append(f"{name}: rows with the same key")
    phase = "before"
    old = {key(e): e for e in build()}
    phase = "after"
    new = {key(e): e for e in build()}
    moving = any(f in MOVING for e in new.values() for f in e)
    if moving:
        if not set(old) <= set(got) <= set(new):
            failures.append(f"{name}: keys: wiretag only {sorted(set(got) - set(new))[:5]}, "
                            f"bpftool before only {sorted(set(old) - set(got))[:5]}")
    elif set(got) != set(new):
        failures.append(f"{name}: keys differ: wiretag only {sorted(set(got) - set(new))[:5]}, "
                        f"bpftool only {sorted(set(new) - set(got))[:5]}")
    for k in set(got) & set(new):
        for field, value in new[k].items():
            have = got[k].get(field)
            if field in MOVING:
                low = old[k][field] if k in old else 0
                if not (isinstance(have, int) and low <= have <= value):
                    failures.append(f"{name} {k}: {field} = {have!r}, bpftool {low}..{value}")
            elif have != value:
                failures.append(f"{name} {k}: {field} = {have!r}, bpftool {value!r}")
    print(f"{name}: {len(rows)} rows, bpftool {len(old)} entries before, {len(new)} after")
    if required and not new:
        failures.append(f"{name}: the test expected entries and found none")


def endpoints():
    return {e["key"]: e["value"] for e in bpftool("endpoints")}


compare("endpoints", lambda: [
    {"ifindex": k, "tag": tag(v["tag"]), "mode": MODES[v["mode"]],
     "untagged": "deny" if v["untagged"] else "allow", "generation": v["generation"],
     "flags": flags(v["flags"]), "slot": v["slot"],
     "ipv4": ip(4, v["ipv4"].to_bytes(4, "little")) if v["flags"] & 1 else None}
    for k, v in endpoints().items()], ["ifindex"])

compare("devices", lambda: [
    {"ifindex": e["key"], "device": text(e["value"]["ifname"]), "netns": text(e["value"]["netns"]),
     "attached": [n for b, n in ((1, "stamp"), (2, "enforce")) if e["value"]["attached"] & b]}
    for e in bpftool("devices")], ["ifindex"])

compare("src_policy", lambda: [
    {"ifindex": e["key"]["ifindex"], "src_tag": source(e["key"]["src_tag"]),
     "generation": e["key"]["generation"], "any_proto": e["value"]["any_proto"] != 0,
     "icmp": e["value"]["icmp"] != 0, "tcp_port_plens": bits(e["value"]["port_plens"][0]),
     "udp_port_plens": bits(e["value"]["port_plens"][1]),
     "in_force": endpoints()[e["key"]["ifindex"]]["generation"] == e["key"]["generation"]}
    for e in bpftool("src_policy")], ["ifindex", "src_tag", "generation"])

compare("port_policy", lambda: [
    {"ifindex": e["key"]["ifindex"], "src_tag": source(e["key"]["src_tag"]),
     "proto": PROTOS[e["key"]["proto"]], "port": e["key"]["port"],
     "plen": e["key"]["plen_gen"] >> 1, "generation": e["key"]["plen_gen"] & 1}
    for e in bpftool("port_policy")], ["ifindex", "src_tag", "proto", "port", "plen", "generation"])

compare("flows", lambda: [
    {"ifindex": e["key"]["ifindex"], "family": e["key"]["family"],
     "proto": PROTOS.get(e["key"]["proto"], str(e["key"]["proto"])),
     "saddr": ip(e["key"]["family"], e["key"]["saddr"]), "sport": ntohs(e["key"]["sport"]),
     "daddr": ip(e["key"]["family"], e["key"]["daddr"]), "dport": ntohs(e["key"]["dport"]),
     "last_seen_ns": e["value"]["last_seen_ns"]}
    for e in bpftool("flows")], ["ifindex", "proto", "saddr", "sport", "daddr", "dport"])


def counters():
    rows = []
    for e in bpftool("counters"):
        packets, octets = summed(e["values"])
        rows.append({"ifindex": e["key"]["ifindex"],
                     "direction": "enforce" if e["key"]["direction"] else "stamp",
                     "reason": REASONS[e["key"]["reason"]],
                     "verdict": "drop" if e["key"]["verdict"] else "pass",
                     "packets": packets, "bytes": octets})
    return rows


# Only drops without an endpoint land in counters: there may be none.
compare("counters", counters, ["ifindex", "direction", "reason", "verdict"], required=False)

columns = {}
for r in range(len(REASONS)):
    for v in (0, 1):
        if r >= PASS_REASONS or v == 0:
            columns[r if r < PASS_REASONS else PASS_REASONS + (r - PASS_REASONS) * 2 + v] = (r, v)


def slot_counters():
    slot_of = {v["slot"]: k for k, v in endpoints().items()}
    rows = []
    for e in bpftool("slot_counters"):
        packets, octets = summed(e["values"])
        if packets == 0 and octets == 0:
            continue
        index = e["key"]
        slot, rest = divmod(index, 2 * SLOT_COLUMNS)
        direction, column = divmod(rest, SLOT_COLUMNS)
        reason, verdict = columns[column]
        rows.append({"index": index, "slot": slot, "ifindex": slot_of.get(slot),
                     "direction": "enforce" if direction else "stamp",
                     "reason": REASONS[reason], "verdict": "drop" if verdict else "pass",
                     "packets": packets, "bytes": octets})
    return rows


compare("slot_counters", slot_counters, ["index"])

compare("endpoint_index", lambda: [
    {"index": e["key"], "ifindex": e["value"] & 0xffffffff, "slot": (e["value"] >> 32) & 0xffff,
     "generation": (e["value"] >> 48) & 1, "mode": MODES[(e["value"] >> 49) & 3],
     "untagged": "deny" if (e["value"] >> 51) & 1 else "allow",
     "flags": flags(e["value"] >> 52)}
    for e in bpftool("endpoint_index") if e["value"]], ["index"])

compare("rule_epochs", lambda: [{"index": e["key"], "epoch": e["value"]}
                                for e in bpftool("rule_epochs") if e["value"]], ["index"])

# maps list: every map, its capacity as the kernel has it.
# Every map pinned in the pin dir (not the programs, the links or the pin_abi marker), each once.
names = [m["name"] for m in listing]
pinned = sorted(f for f in os.listdir(pin_dir)
                if not os.path.isdir(os.path.join(pin_dir, f)) and not f.endswith("_prog")
                and f != "pin_abi")
if sorted(names) != pinned or len(set(names)) != len(names):
    failures.append(f"maps list: {sorted(names)}, pinned maps: {pinned}")
for m in listing:
    info = json.loads(subprocess.run(["bpftool", "map", "show", "pinned",
                                      f"{pin_dir}/{m['name']}", "-j"],
                                     check=True, capture_output=True, text=True).stdout)
    if info["max_entries"] != m["capacity"] or info["type"] != m["type"]:
        failures.append(f"maps list {m['name']}: {m['type']}/{m['capacity']}, bpftool "
                        f"{info['type']}/{info['max_entries']}")
for name in ("endpoints", "devices", "src_policy", "port_policy"):
    entry = next(m for m in listing if m["name"] == name)
    if entry["entries"] != len(dump[name]):
        failures.append(f"maps list {name}: {entry['entries']} entries, dump {len(dump[name])}")

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
