#!/usr/bin/env bash
# The agent on the lab (scripts/lab.sh): one wiretag-server, one wiretag-agent per cell, two
# cells joined by VXLAN-GBP, three containers per cell, every container's device following its
# app on the server through the agent's Plugin API. Proves, end to end from the server's REST
# API to packets: an edge lets a container on cell 1 reach one on cell 2 (TCP, UDP, ping, IPv4
# and IPv6; the tag crosses in VXLAN-GBP) and nothing else; deleting the edge stops the flow;
# the server stopped leaves verdicts unchanged and, restarted, the agents resync; cells report
# PDP_STATUS; and the kill loop: 20 SIGKILLs of an agent during policy churn, with a continuous
# allowed TCP stream (completes intact) and a continuous denied probe (nothing delivered).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${WT_BUILD_DIR:?build dir with the server and agent}
LAB=$here/../../scripts/lab.sh
export WT_LAB_ID=wta$$ WIRETAG_LOG_LEVEL=info WIRETAG_HEARTBEAT_INTERVAL=300 \
  WIRETAG_SWEEP_INTERVAL=500
. "$here/../../scripts/lib/lab.sh"
lab_init "$WT_LAB_ID" || exit 1
. "$here/checks.sh"
lab_test_up 2 3

plugin() { # plugin N METHOD BODY
  plugin_curl "$1" -sS -X "$2" -H 'Content-Type: application/json' -d "$3" http://agent/whitelist \
    -o "$tmp/plugin.out" -w '%{http_code}'
}

# Register every app and hand every container's device to its cell's agent to follow.
for n in 1 2; do
  for c in 1 2 3; do
    srv POST /app "{\"guid\":\"$(app "$n" "$c")\"}" >/dev/null || fail "POST /app $(app "$n" "$c")"
    dev="{\"namespace\":\"$(lab_cell_netns "$n")\",\"interface_name\":\"$(lab_hostif "$n" "$c")\"}"
    code=$(plugin "$n" POST "{\"destination_device\":$dev,\"app_guid\":\"$(app "$n" "$c")\"}")
    [ "$code" = 200 ] || fail "follow $(app "$n" "$c") on cell $n: HTTP $code $(cat "$tmp/plugin.out")"
  done
done
lab_echo_servers 2 1 8080 9999
lab_echo_servers 1 1 8080
sleep 0.3
D4=$(lab_ip4 2 1) D6=$(lab_ip6 2 1)

echo "# no edges: nothing tagged gets in"
expect denied "cell1/app-1-1 -> cell2/app-2-1 tcp" lab_tcp_ok 1 1 "$D4" 8080

srv POST /whitelist '{"source":"app-1-1","destination":"app-2-1"}' >/dev/null || fail "POST /whitelist"
echo "# edge app-1-1 -> app-2-1"
eventually 10 lab_tcp_ok 1 1 "$D4" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 tcp (IPv4)" lab_tcp_ok 1 1 "$D4" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 udp (IPv4)" lab_udp_ok 1 1 "$D4" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 ping (IPv4)" lab_ping_ok 1 1 "$D4"
expect allowed "cell1/app-1-1 -> cell2/app-2-1 tcp (IPv6)" lab_tcp_ok 1 1 "$D6" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 udp (IPv6)" lab_udp_ok 1 1 "$D6" 8080
expect allowed "cell1/app-1-1 -> cell2/app-2-1 ping (IPv6)" lab_ping_ok 1 1 "$D6"
expect denied "cell1/app-1-2 -> cell2/app-2-1 tcp (other app, same cell)" lab_tcp_ok 1 2 "$D4" 8080
expect denied "cell1/app-1-2 -> cell2/app-2-1 ping (IPv6)" lab_ping_ok 1 2 "$D6"
expect denied "cell2/app-2-2 -> cell2/app-2-1 tcp (same cell, no edge)" lab_tcp_ok 2 2 "$D4" 8080
expect denied "cell2/app-2-1 -> cell1/app-1-1 tcp (edges are directed)" lab_tcp_ok 2 1 "$(lab_ip4 1 1)" 8080
expect denied "cell1/app-1-1 -> cell2/app-2-2 ping (no edge)" lab_ping_ok 1 1 "$(lab_ip4 2 2)"

echo "# cells report PDP_STATUS"
cell_healthy() { srv GET "/internal/v1/cells/$WT_LAB_ID-cell$1" | grep -q '"healthy":true'; }
if eventually 10 cell_healthy 1 && eventually 10 cell_healthy 2; then ok "both cells registered and healthy"
else fail "cells not healthy: $(srv GET /internal/v1/cells)"; fi
# Each agent runs with its own cell credential: cell 1's cannot speak for cell 2. Over TLS
# (the lab's default) cell 1 authenticates with a client certificate (mutual TLS), else a token.
if [ -s "$LAB_STATE/cell1/cell-token" ]; then
  cell1_cred=(-H "Authorization: Bearer $(cat "$LAB_STATE/cell1/cell-token")") cell1_how=token
else
  cell1_cred=(--cert "$LAB_STATE/certs/cell-$WT_LAB_ID-cell1.pem"
    --key "$LAB_STATE/certs/cell-$WT_LAB_ID-cell1.key") cell1_how="client certificate"
fi
as_cell2=$(lab_curl -sS -o "$tmp/mismatch.out" -w '%{http_code}' -X POST "${cell1_cred[@]}" \
  -d "{\"messageName\":\"PDP_STATUS\",\"name\":\"$WT_LAB_ID-cell2\",\"pdpType\":\"tc\",\"state\":\"ACTIVE\",\"healthy\":\"NOT_HEALTHY\",\"heartbeatIntervalMs\":1000}" \
  "$WT_LAB_SERVER/internal/v1/cells/$WT_LAB_ID-cell2/status")
if [ "$as_cell2" = 403 ] && grep -q CELL_MISMATCH "$tmp/mismatch.out" && cell_healthy 2; then
  ok "cell 1's $cell1_how cannot report as cell 2 (403 CELL_MISMATCH), cell 2 stays healthy"
else fail "cell 1's $cell1_how as cell 2: HTTP $as_cell2 $(cat "$tmp/mismatch.out")"; fi
if [ "${WT_LAB_TLS:-1}" != 0 ]; then
  check "the lab runs over TLS: https server URL, CA $WT_LAB_CA" \
    bash -c "[[ '$WT_LAB_SERVER' == https://* ]] && [ -s '$WT_LAB_CA' ]"
  check "cell 1's agent authenticates with its client certificate, no token" bash -c \
    "[ ! -e '$LAB_STATE/cell1/cell-token' ] && grep -qzxF -- --client-cert /proc/$WT_LAB_AGENT_PID_1/cmdline"
fi

echo "# deleting the edge stops the flow"
srv DELETE /whitelist '{"source":"app-1-1","destination":"app-2-1"}' >/dev/null || fail "DELETE /whitelist"
if eventually 10 not lab_tcp_ok 1 1 "$D4" 8080; then ok "flow stopped after DELETE /whitelist"
else fail "flow still passes after DELETE /whitelist"; fi
expect denied "cell1/app-1-1 -> cell2/app-2-1 ping after delete" lab_ping_ok 1 1 "$D4"
srv POST /whitelist '{"source":"app-1-1","destination":"app-2-1"}' >/dev/null
eventually 10 lab_tcp_ok 1 1 "$D4" 8080

echo "# server stopped: verdicts unchanged"
"$LAB" stop-server >/dev/null
expect allowed "app-1-1 -> app-2-1 tcp, server down" lab_tcp_ok 1 1 "$D4" 8080
expect denied "app-1-2 -> app-2-1 tcp, server down" lab_tcp_ok 1 2 "$D4" 8080
agent_unhealthy() { [ "$(lab_curl -s -o /dev/null -w '%{http_code}' "$(agent_url 2)/healthz")" = 503 ]; }
if eventually 40 agent_unhealthy; then ok "agent reports degraded while the server is away"
else fail "agent healthz still 200 with the server down"; fi
expect allowed "app-1-1 -> app-2-1 tcp, server still down" lab_tcp_ok 1 1 "$D4" 8080

echo "# server restarted: agents resync and follow new changes"
"$LAB" start-server >/dev/null || fail "start-server"
lab_load
agent_healthy() { [ "$(lab_curl -s -o /dev/null -w '%{http_code}' "$(agent_url "$1")/healthz")" = 200 ]; }
if eventually 60 agent_healthy 1 && eventually 60 agent_healthy 2; then ok "agents healthy again"
else fail "agents did not reconnect"; fi
srv POST /whitelist '{"source":"app-1-2","destination":"app-2-1"}' >/dev/null || fail "POST after restart"
if eventually 10 lab_tcp_ok 1 2 "$D4" 8080; then ok "edge added after the restart reaches cell 2"
else fail "edge added after the restart not enforced"; fi
srv DELETE /whitelist '{"source":"app-1-2","destination":"app-2-1"}' >/dev/null
eventually 10 not lab_tcp_ok 1 2 "$D4" 8080

echo "# kill loop: 20 SIGKILLs of cell 2's agent during policy churn"
secs=40
lab_exec 2 1 python3 "$here/flow_probe.py" udp-recv 7777 $((secs + 10)) >"$tmp/denied.recv" 2>&1 &
bg_pids+=($!)
disown $!
eventually 5 grep -q ready "$tmp/denied.recv"
lab_exec 1 1 python3 "$here/flow_probe.py" stream "$D4" 8080 "$secs" >"$tmp/stream.out" 2>&1 &
stream_pid=$!
bg_pids+=("$stream_pid")
lab_exec 1 2 python3 "$here/flow_probe.py" udp-send "$D4" 7777 "$secs" >"$tmp/denied.send" 2>&1 &
probe_pid=$!
bg_pids+=("$probe_pid")
(
  # Churn: edges into app-2-1 and app-2-2 from app-1-3 and app-2-3 come and go.
  end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    for e in '{"source":"app-1-3","destination":"app-2-1"}' '{"source":"app-2-3","destination":"app-2-2"}'; do
      srv POST /whitelist "$e" >/dev/null 2>&1
      sleep 0.05
      srv DELETE /whitelist "$e" >/dev/null 2>&1
    done
  done
) &
churn_pid=$!
bg_pids+=("$churn_pid")
kills=0
for i in $(seq 1 20); do
  sleep 1.2
  "$LAB" restart-agent 2 --kill >>"$tmp/kills.log" 2>&1 && kills=$((kills + 1))
done
[ "$kills" = 20 ] && ok "20 SIGKILL + restart of cell 2's agent" || fail "only $kills of 20 agent restarts worked: $(tail -5 "$tmp/kills.log")"
wait "$stream_pid"; stream_rc=$?
wait "$probe_pid"
wait "$churn_pid" 2>/dev/null
if [ "$stream_rc" = 0 ]; then ok "allowed TCP stream completed intact: $(cat "$tmp/stream.out")"
else fail "allowed TCP stream broke: $(cat "$tmp/stream.out")"; fi
delivered=$(grep -c '^probe' "$tmp/denied.recv")
sent=$(grep -o '[0-9]*' "$tmp/denied.send" | head -1)
if [ "${sent:-0}" -gt 100 ] && [ "$delivered" = 0 ]; then ok "denied probe: $sent datagrams sent, 0 delivered"
else fail "denied probe: ${sent:-?} sent, $delivered delivered"; fi
# After the churn and the kills the rules are as the server says.
expect allowed "app-1-1 -> app-2-1 tcp after the kill loop" lab_tcp_ok 1 1 "$D4" 8080
expect denied "app-1-3 -> app-2-1 tcp after the kill loop (edge deleted last)" lab_tcp_ok 1 3 "$D4" 8080

echo "# a deleted container's device is forgotten"
lab_cell_exec 2 ip link del "$(lab_hostif 2 3)"
gone() { ! plugin_curl 2 -s http://agent/whitelist | grep -q "\"$(lab_hostif 2 3)\""; }
if eventually 10 gone; then ok "vanished device removed from the agent"; else fail "vanished device still listed"; fi

summary
