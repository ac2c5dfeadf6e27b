#!/usr/bin/env python3
"""A cell engine's rows (the services API's "rows" op, through the server's
POST /v1/cells/:name/ops/rows) against `bpftool map dump pinned ... -j` of the same maps.

usage: engine_rows_check.py SERVER_URL TOKEN_FILE CELL PIN_DIR [CA_FILE]

bpftool decodes each map with the BTF the programs carry (field names from abi.h); the agent
decodes with its own C++ structs. bpftool dumps every map before and after the agent's rows:
each bpftool entry must be one row with equal values, and nothing more. Counters and
last-seen times move with background traffic: for those, before <= row <= after, and rows
may appear in between.
"""
import ipaddress
import json
import ssl
import subprocess
import sys
import urllib.request

server, token_file, cell, pin_dir = sys.argv[1:5]
ca = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
token = open(token_file).read().strip()
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
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
FLAGS = [(1, "antispoof_v4"), (2, "antispoof_v6"), (4, "has_src_policy"),
         (8, "has_wildcard_ports"), (16, "has_wildcard_src")]
MAPS = ["endpoints", "devices", "src_policy", "port_policy", "flows", "counters", "slot_counters"]


def op(name, body):
    req = urllib.request.Request(f"{server}/v1/cells/{cell}/ops/{name}", json.dumps(body).encode(),
                                 {"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.load(r)["result"]


def bpftool_dump(name):
    out = subprocess.run(["bpftool", "map", "dump", "pinned", f"{pin_dir}/{name}", "-j"],
                         check=True, capture_output=True, text=True).stdout
    entries = json.loads(out)
    for e in entries:
        if "formatted" not in e:
            sys.exit(f"bpftool printed no BTF-formatted entries for {name}")
    return [e["formatted"] for e in entries]


tables = {t["name"]: t for t in op("tables", {})["tables"]}
before = {name: bpftool_dump(name) for name in MAPS}
answers = {name: op("rows", {"table": name, "limit": 10000}) for name in tables}
after = {name: bpftool_dump(name) for name in MAPS}
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


def devices():
    return {e["key"]: (text(e["value"]["netns"]), text(e["value"]["ifname"]))
            for e in bpftool("devices")}


def named(ifindex, row):
    ns, ifname = devices().get(ifindex, (None, None))
    return dict(row, ifindex=ifindex, namespace=ns, interface_name=ifname)


def endpoints():
    return {e["key"]: e["value"] for e in bpftool("endpoints")}


def summed(values):
    return (sum(v["value"]["packets"] for v in values), sum(v["value"]["bytes"] for v in values))


def compare(name, build, key_fields, required=True):
    global phase
    answer = answers.get(name)
    if answer is None:
        failures.append(f"{name}: no such table")
        return
    rows = answer["rows"]
    if answer["total"] != len(rows):
        failures.append(f"{name}: total {answer['total']} but {len(rows)} rows")
    columns = [c["name"] for c in tables[name]["columns"]]
    if [c["name"] for c in answer["columns"]] != columns:
        failures.append(f"{name}: the rows' columns are not the table's")
    for r in rows:
        if sorted(r) != sorted(columns):
            failures.append(f"{name}: a row's fields {sorted(r)} are not the columns {columns}")
            break
        for c in tables[name]["columns"]:
            v = r[c["name"]]
            ok = v is None or {"integer": isinstance(v, int) and not isinstance(v, bool),
                               "string": isinstance(v, str),
                               "boolean": isinstance(v, bool)}[c["type"]]
            if not ok:
                failures.append(f"{name}.{c['name']} = {v!r} is no {c['type']}")

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
            failures.append(f"{name}: keys: rows only {sorted(set(got) - set(new))[:5]}, "
                            f"bpftool before only {sorted(set(old) - set(got))[:5]}")
    elif set(got) != set(new):
        failures.append(f"{name}: keys differ: rows only {sorted(set(got) - set(new))[:5]}, "
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


compare("endpoints", lambda: [named(k, {
    "endpoint_tag": v["tag"], "mode": MODES[v["mode"]],
    "untagged": "deny" if v["untagged"] else "allow", "generation": v["generation"],
    "flags": ",".join(n for b, n in FLAGS if v["flags"] & b), "slot": v["slot"],
    "ipv4": ip(4, v["ipv4"].to_bytes(4, "little")) if v["flags"] & 1 else None})
    for k, v in endpoints().items()], ["ifindex"])

compare("devices", lambda: [named(e["key"], {
    "attached": ",".join(n for b, n in ((1, "stamp"), (2, "enforce")) if e["value"]["attached"] & b)})
    for e in bpftool("devices")], ["ifindex"])


def rules():
    out = []
    for e in bpftool("src_policy"):
        k, v = e["key"], e["value"]
        base = {"src_tag": k["src_tag"], "generation": k["generation"], "map": "src_policy",
                "in_force": endpoints()[k["ifindex"]]["generation"] == k["generation"]}
        if v["any_proto"]:
            out.append(named(k["ifindex"], dict(base, proto="any", port_first=None, port_last=None)))
        if v["icmp"]:
            out.append(named(k["ifindex"], dict(base, proto="icmp", port_first=None, port_last=None)))
        for slot, proto in ((0, "tcp"), (1, "udp")):
            if v["port_plens"][slot] & 1:
                out.append(named(k["ifindex"], dict(base, proto=proto, port_first=0, port_last=65535)))
    for e in bpftool("port_policy"):
        k = e["key"]
        plen, gen = k["plen_gen"] >> 1, k["plen_gen"] & 1
        out.append(named(k["ifindex"], {
            "src_tag": k["src_tag"], "generation": gen, "map": "port_policy",
            "proto": PROTOS[k["proto"]], "port_first": k["port"],
            "port_last": k["port"] + (1 << (16 - plen)) - 1,
            "in_force": endpoints()[k["ifindex"]]["generation"] == gen}))
    return out


compare("rules", rules, ["ifindex", "src_tag", "generation", "proto", "port_first", "map"])

compare("flows", lambda: [named(e["key"]["ifindex"], {
    "family": e["key"]["family"], "proto": PROTOS.get(e["key"]["proto"], str(e["key"]["proto"])),
    "saddr": ip(e["key"]["family"], e["key"]["saddr"]), "sport": ntohs(e["key"]["sport"]),
    "daddr": ip(e["key"]["family"], e["key"]["daddr"]), "dport": ntohs(e["key"]["dport"]),
    "last_seen_ns": e["value"]["last_seen_ns"]})
    for e in bpftool("flows")], ["ifindex", "proto", "saddr", "sport", "daddr", "dport"])

columns = {}
for r in range(len(REASONS)):
    for v in (0, 1):
        if r >= PASS_REASONS or v == 0:
            columns[r if r < PASS_REASONS else PASS_REASONS + (r - PASS_REASONS) * 2 + v] = (r, v)


def counters():
    rows = {}
    def add(ifindex, direction, reason, verdict, packets, octets):
        k = (ifindex, "enforce" if direction else "stamp", REASONS[reason],
             "drop" if verdict else "pass")
        p, b = rows.get(k, (0, 0))
        rows[k] = (p + packets, b + octets)
    for e in bpftool("counters"):
        add(e["key"]["ifindex"], e["key"]["direction"], e["key"]["reason"], e["key"]["verdict"],
            *summed(e["values"]))
    slot_of = {v["slot"]: k for k, v in endpoints().items()}
    for e in bpftool("slot_counters"):
        packets, octets = summed(e["values"])
        slot, rest = divmod(e["key"], 2 * SLOT_COLUMNS)
        if (packets == 0 and octets == 0) or slot not in slot_of:
            continue
        direction, column = divmod(rest, SLOT_COLUMNS)
        add(slot_of[slot], direction, *columns[column], packets, octets)
    return [named(k[0], {"direction": k[1], "reason": k[2], "verdict": k[3], "packets": p,
                         "bytes": b}) for k, (p, b) in rows.items()]


compare("counters", counters, ["ifindex", "direction", "reason", "verdict"])

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
