#!/usr/bin/env bash
# The services API's engine ops on the lab (scripts/lab.sh): the real server and one agent per
# cell, real veths and packets; every op asked through the server's admin route
# POST /v1/cells/:name/ops/:op, which the cell answers over its own watch. Proves:
# - tables/rows: a cell engine's rows equal `bpftool map dump` of the same pinned maps
#   (engine_rows_check.py), filters and errors come back through the server;
# - status: map fill and the revision held;
# - resync: a rule erased behind the agent's back is back after the op, seen on the cell;
# - flush-flows: one device's flows, then all, gone from the flows map;
# - reload-device: after the programs are removed (TCX pins or `tc filter del`) they are
#   attached again and enforce;
# - the services API (/v1/services) reads and acts on the same cell; a stopped cell is 503.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${WT_BUILD_DIR:?build dir with the server and agent}
LAB=$here/../../scripts/lab.sh
export WT_LAB_ID=wte$$ WIRETAG_LOG_LEVEL=info WIRETAG_HEARTBEAT_INTERVAL=300
. "$here/../../scripts/lib/lab.sh"
lab_init "$WT_LAB_ID" || exit 1
. "$here/checks.sh"
lab_test_up 2 2
CELL=$WT_LAB_ID-cell1
PIN=$(lab_pin_dir 1)
CELL_NS=$(lab_cell_netns 1)

# op NAME BODY: the server's admin route to cell 1; the answer in $tmp/op.out, the status echoed.
op() {
  lab_curl -sS -o "$tmp/op.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$2" "$WT_LAB_SERVER/v1/cells/$CELL/ops/$1"
}
# json_true EXPR: python expression over `j` ($tmp/op.out parsed) must be true.
json_true() { python3 -c "import json,sys; j=json.load(open('$tmp/op.out')); sys.exit(0 if ($1) else 1)"; }
dev() { echo "{\"namespace\":\"$CELL_NS\",\"interface_name\":\"$(lab_hostif 1 "$1")\"}"; }
ifindex() { ip netns exec "$(lab_cell_ns 1)" cat "/sys/class/net/$(lab_hostif 1 "$1")/ifindex"; }
bpftool_flows_of() { # how many flows entries ifindex $1 (or all: "") has
  bpftool map dump pinned "$PIN/flows" -j |
    python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin) if '$1' == '' or e['formatted']['key']['ifindex'] == int('${1:-0}')))"
}
count_in_log() { grep -c "$1" "$WT_LAB_AGENT_LOG_1"; }

for n in 1 2; do for c in 1 2; do
  srv POST /app "{\"guid\":\"$(app "$n" "$c")\"}" >/dev/null || fail "POST /app $(app "$n" "$c")"
  d="{\"namespace\":\"$(lab_cell_netns "$n")\",\"interface_name\":\"$(lab_hostif "$n" "$c")\"}"
  code=$(plugin_curl "$n" -sS -X POST -H 'Content-Type: application/json' -o "$tmp/plugin.out" \
    -w '%{http_code}' -d "{\"destination_device\":$d,\"app_guid\":\"$(app "$n" "$c")\"}" \
    http://agent/whitelist)
  [ "$code" = 200 ] || fail "follow $(app "$n" "$c"): HTTP $code $(cat "$tmp/plugin.out")"
done; done
srv POST /whitelist '{"source":"app-1-2","destination":"app-1-1","protocol":"tcp","ports":{"start":8080,"end":8080}}' >/dev/null ||
  fail "edge app-1-2 -> app-1-1 tcp/8080"
srv POST /whitelist '{"source":"app-2-1","destination":"app-1-1"}' >/dev/null || fail "edge app-2-1 -> app-1-1"
srv POST /whitelist '{"source":"app-1-1","destination":"app-2-1"}' >/dev/null || fail "edge app-1-1 -> app-2-1"
lab_echo_servers 1 1 8080
lab_echo_servers 1 2 8080
lab_echo_servers 2 1 8080
sleep 0.3
eventually 10 lab_tcp_ok 1 2 "$(lab_ip4 1 1)" 8080
expect allowed "cell1/app-1-2 -> app-1-1 tcp/8080" lab_tcp_ok 1 2 "$(lab_ip4 1 1)" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 tcp" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 ping" lab_ping_ok 1 1 "$(lab_ip4 2 1)"
expect denied "cell2/app-2-2 -> app-1-2 tcp (no edge)" lab_tcp_ok 2 2 "$(lab_ip4 1 2)" 8080

echo "# tables and rows: the cell's maps, read live, equal bpftool's dump of them"
code=$(op tables '{}')
check "tables: HTTP $code, endpoints, devices, rules, flows, counters" bash -c "[ $code = 200 ] && python3 -c \"import json; t=[x['name'] for x in json.load(open('$tmp/op.out'))['result']['tables']]; assert {'endpoints','rules','flows','counters'} <= set(t), t\""
python3 "$here/engine_rows_check.py" "$WT_LAB_SERVER" "$WT_LAB_TOKEN_FILE" "$CELL" "$PIN" "${WT_LAB_CA:-}"
check "rows of every table agree with bpftool" test $? -eq 0
code=$(op rows "{\"table\":\"flows\",\"filter\":{\"interface_name\":\"$(lab_hostif 1 1)\"}}")
check "rows filtered by interface_name: only ctr1's flows, some ($code)" json_true \
  "j['result']['total'] > 0 and all(r['interface_name'] == '$(lab_hostif 1 1)' for r in j['result']['rows'])"
code=$(op rows "{\"table\":\"rules\",\"filter\":{\"proto\":\"tcp\",\"port_first\":\"8080\"},\"limit\":1}")
check "rows of rules: the tcp/8080 rule, its source tag a number ($code)" json_true \
  "j['result']['total'] >= 1 and len(j['result']['rows']) == 1 and isinstance(j['result']['rows'][0]['src_tag'], int)"
code=$(op rows '{"table":"nope"}')
check "an unknown table is 404 TABLE_NOT_FOUND (got $code)" bash -c "[ $code = 404 ] && grep -q TABLE_NOT_FOUND $tmp/op.out"
code=$(op rows '{"table":"flows","filter":{"colour":"red"}}')
check "an unknown column is 400 UNKNOWN_COLUMN (got $code)" bash -c "[ $code = 400 ] && grep -q UNKNOWN_COLUMN $tmp/op.out"
code=$(op rows '{"table":"flows","limit":-1}')
check "a negative limit is 400 INVALID_LIMIT (got $code)" bash -c "[ $code = 400 ] && grep -q INVALID_LIMIT $tmp/op.out"

echo "# status: map fill and the revision held"
code=$(op status '{}')
check "status has map_fill (flows and policy maps) and revision ($code)" json_true \
  "j['result']['map_fill']['flows']['entries'] > 0 and j['result']['map_fill']['flows']['capacity'] > 0 and j['result']['map_fill']['port_policy']['entries'] > 0 and isinstance(j['result']['revision'], int)"

echo "# resync: a rule erased behind the agent's back is restored"
rules_of_ctr1() { # the in-force rules of ctr1, without generations, one per line
  op rows "{\"table\":\"rules\",\"filter\":{\"interface_name\":\"$(lab_hostif 1 1)\",\"in_force\":\"true\"}}" >/dev/null
  python3 -c "import json; [print(r['src_tag'], r['proto'], r['port_first'], r['port_last'], r['map']) for r in json.load(open('$tmp/op.out'))['result']['rows']]"
}
rules_of_ctr1 >"$tmp/rules.before"
check "ctr1 enforces a tcp/8080 port_policy rule" grep -q "tcp 8080 8080 port_policy" "$tmp/rules.before"
key=$(bpftool map dump pinned "$PIN/port_policy" -j | python3 -c "
import json,sys
for e in json.load(sys.stdin):
    k = e['formatted']['key']
    if k['ifindex'] == $(ifindex 1) and k['port'] == 8080:
        print(' '.join(e['key'])); break")
check "found the rule's port_policy entry" test -n "$key"
# shellcheck disable=SC2086 # the key's bytes, as bpftool printed them
bpftool map delete pinned "$PIN/port_policy" key hex $key
rules_of_ctr1 >"$tmp/rules.erased"
check "the entry is gone from the maps" bash -c "! grep -q 'tcp 8080 8080 port_policy' $tmp/rules.erased"
resyncs=$(count_in_log "resynced")
code=$(op resync '{}')
check "resync: HTTP 200, outcome ok, revision and duration_ms ($code $(head -c 200 "$tmp/op.out"))" \
  json_true "j['result']['outcome'] == 'ok' and isinstance(j['result']['revision'], int) and j['result']['duration_ms'] >= 0"
rev=$(python3 -c "import json; print(json.load(open('$tmp/op.out'))['result']['revision'])")
rules_of_ctr1 >"$tmp/rules.after"
check "the rule is back in the maps after the resync" diff "$tmp/rules.before" "$tmp/rules.after"
check "the agent logged the asked resync" grep -q 'resync asked by the server' "$WT_LAB_AGENT_LOG_1"
check "the agent resynced once more (log: resynced ... at revision $rev)" \
  bash -c "[ \$(grep -c resynced '$WT_LAB_AGENT_LOG_1') -gt $resyncs ] && grep -q 'resynced .* at revision $rev' '$WT_LAB_AGENT_LOG_1'"
expect allowed "app-1-2 -> app-1-1 tcp/8080 after the resync" lab_tcp_ok 1 2 "$(lab_ip4 1 1)" 8080

echo "# flush-flows: one device's flows, then all"
lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080
lab_tcp_ok 1 2 "$(lab_ip4 1 1)" 8080
n1=$(bpftool_flows_of "$(ifindex 1)") n2=$(bpftool_flows_of "$(ifindex 2)")
check "ctr1 and ctr2 have flows ($n1, $n2)" bash -c "[ $n1 -gt 0 ] && [ $n2 -gt 0 ]"
code=$(op flush-flows "{\"device\":$(dev 1)}")
check "flush-flows of ctr1: HTTP $code, flushed $n1" json_true "j['result']['flushed'] == $n1"
check "ctr1 has no flow left in bpftool's dump" test "$(bpftool_flows_of "$(ifindex 1)")" -eq 0
check "ctr2 keeps its flows" test "$(bpftool_flows_of "$(ifindex 2)")" -eq "$n2"
code=$(op flush-flows '{}')
check "flush-flows of all: HTTP $code, flushed $n2" json_true "j['result']['flushed'] == $n2"
check "the flows map is empty" test "$(bpftool_flows_of "")" -eq 0
code=$(op flush-flows '{"device":{"namespace":"/run/netns/none","interface_name":"nope0"}}')
check "flush-flows of an unknown device is 404 DEVICE_NOT_FOUND (got $code)" bash -c "[ $code = 404 ] && grep -q DEVICE_NOT_FOUND $tmp/op.out"
expect allowed "app-1-1 -> cell2/app-2-1 tcp after the flush (new flows)" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080

echo "# reload-device: re-attaches after the programs were removed behind the agent"
hif2=$(lab_hostif 1 2)
hif2_index=$(lab_cell_exec 1 cat "/sys/class/net/$hif2/ifindex")
links="$PIN/links/$hif2_index"
if [ -e "${links}_egress" ]; then
  # TCX (Linux >= 6.6): the pins are the links' only references; unpinned, they detach.
  rm -f "${links}_egress" "${links}_ingress"
  attached() { [ -e "${links}_$1" ]; }
else
  lab_cell_exec 1 tc filter del dev "$hif2" egress
  lab_cell_exec 1 tc filter del dev "$hif2" ingress
  attached() { ip netns exec "$(lab_cell_ns 1)" tc filter show dev "$hif2" "$1" | grep -q "wt_$2_prog"; }
fi
detached() { ! attached "$@"; }
check "the programs are gone from $hif2" detached egress enforce
expect allowed "app-2-2 -> app-1-2 tcp, nothing enforcing" lab_tcp_ok 2 2 "$(lab_ip4 1 2)" 8080
code=$(op reload-device "{\"device\":$(dev 2)}")
check "reload-device: HTTP $code, reloaded, the device named" json_true \
  "j['result']['reloaded'] is True and j['result']['device']['interface_name'] == '$hif2'"
check "enforce is attached to $hif2 again" attached egress enforce
check "stamp is attached to $hif2 again" attached ingress stamp
expect denied "app-2-2 -> app-1-2 tcp (no edge) after the reload" lab_tcp_ok 2 2 "$(lab_ip4 1 2)" 8080
expect allowed "app-1-2 -> app-1-1 tcp/8080 still" lab_tcp_ok 1 2 "$(lab_ip4 1 1)" 8080
code=$(op reload-device '{"device":{"namespace":"/run/netns/none","interface_name":"nope0"}}')
check "reload-device of an unknown device is 404 DEVICE_NOT_FOUND (got $code)" bash -c "[ $code = 404 ] && grep -q DEVICE_NOT_FOUND $tmp/op.out"
code=$(op reload-device '{}')
check "reload-device without a device is 400 MISSING_FIELD (got $code)" bash -c "[ $code = 400 ] && grep -q MISSING_FIELD $tmp/op.out"

echo "# the services API (/v1/services) over the same real cells"
# svc METHOD PATH [BODY]: the answer in $tmp/op.out, the status echoed.
svc() {
  lab_curl -sS -o "$tmp/op.out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$WT_LAB_SERVER$2"
}
ENGINE="cell:$CELL"
code=$(svc GET "/v1/services?type=policy-engine")
check "GET /v1/services lists $ENGINE, ACTIVE and healthy ($code)" json_true \
  "any(s['id'] == '$ENGINE' and s['state'] == 'ACTIVE' and str(s['health']).upper() == 'HEALTHY' for s in j['services'])"
code=$(svc GET "/v1/services/$ENGINE/tables/rules/rows?proto=tcp&port_first=8080&in_force=true")
check "engine rows of rules: the tcp/8080 rule's source resolved to app-1-2 ($code)" json_true \
  "j['total'] >= 1 and all(r['src_app'] == 'app-1-2' and isinstance(r['src_tag'], int) for r in j['rows'])"
cp "$tmp/op.out" "$tmp/svc.rules"
code=$(svc GET "/v1/services/$ENGINE/tables/rules/rows?src_app=app-1-2&proto=tcp&port_first=8080&in_force=true")
check "filtering by src_app gives the same rows ($code)" python3 -c "import json; a=json.load(open('$tmp/svc.rules')); b=json.load(open('$tmp/op.out')); assert a['rows'] == b['rows'] and a['total'] == b['total']"
code=$(op rows '{"table":"rules","limit":10000}')
python3 -c "import json; print(json.dumps(json.load(open('$tmp/op.out'))['result']['rows'], sort_keys=True))" >"$tmp/op.rows"
code=$(svc GET "/v1/services/$ENGINE/tables/rules/rows?limit=1000")
check "the services API's rules rows are the cell's rows (checked against bpftool above), plus *_app columns" \
  python3 -c "
import json
op = json.load(open('$tmp/op.rows'))
svc = json.load(open('$tmp/op.out'))['rows']
strip = [{k: v for k, v in r.items() if not k.endswith('_app')} for r in svc]
assert len(op) <= 1000 and strip == op, (len(op), len(svc))"
code=$(svc GET "/v1/services/$ENGINE/status")
check "engine status: healthy, revision held against the server's, map fill ($code)" json_true \
  "'map_fill' in j and 'revision' in j"
code=$(svc GET "/v1/services/$ENGINE/policies")
check "engine policies: default-whitelist is held ($code)" grep -q default-whitelist "$tmp/op.out"
asked=$(count_in_log "resync asked by the server")
code=$(svc POST "/v1/services/$ENGINE/actions/resync" '{}')
check "POST actions/resync: HTTP $code, outcome ok" json_true "j.get('outcome', j.get('result', {}).get('outcome')) == 'ok'"
check "the cell logged the resync the services API asked for" \
  bash -c "[ \$(grep -c 'resync asked by the server' '$WT_LAB_AGENT_LOG_1') -gt $asked ]"
code=$(svc GET "/v1/services/apps/tables/apps/rows?guid=app-2-1")
check "data source apps: app-2-1's row ($code)" json_true "j['total'] == 1 and j['rows'][0]['guid'] == 'app-2-1'"
agent2=$WT_LAB_AGENT_PID_2
lab_stop_agent 2
check "lab_stop_agent returns once the agent has exited (pid $agent2)" \
  bash -c "! tr -d '\\0' </proc/$agent2/cmdline 2>/dev/null | grep -q ."
code=$(svc GET "/v1/services/cell:$WT_LAB_ID-cell2/tables/rules/rows")
check "a cell whose agent is gone answers 503 CELL_UNREACHABLE (got $code)" \
  bash -c "[ $code = 503 ] && grep -q CELL_UNREACHABLE $tmp/op.out"

summary
